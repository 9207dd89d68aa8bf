import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { schemaFile } from '../src/graphql/print-schema.js';
import { printSortedSchema } from '../src/graphql/schema/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { signUp } from './helpers/auth-flows.js';
import { createGql } from './helpers/gql.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('operations', () => {
  it('answers /health and /ready while the database answers', async () => {
    expect((await t.app.yoga.fetch('http://localhost/health')).status).toBe(200);
    expect((await t.app.yoga.fetch('http://localhost/ready')).status).toBe(200);
  });

  it('keeps the generated signing key across a restart on the same database', async () => {
    const payload = await signUp(t.gql);
    const restarted = await createTestApp({ database: t.database, clock: t.clock });
    try {
      const me = await restarted.gql('{ me { id } }', {}, { token: payload.accessToken });
      expect(me.data).toEqual({ me: { id: payload.user.id } });
    } finally {
      await restarted.close();
    }
  });

  it('answers over a real port, returns a request id, and finishes an in-flight request on stop', async () => {
    const served = await createTestApp();
    const { url } = await served.app.start();
    const gql = createGql(fetch, url);
    const inFlight = signUp(gql);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopping = served.close();
    const payload = await inFlight;
    expect(payload.accessToken).toEqual(expect.any(String));
    await stopping;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe('configuration', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: './.data',
      jwtIssuer: 'http://localhost:4000',
      jwtAudience: 'tidepass',
      accessTokenTtl: 900,
      refreshTokenTtl: 2_592_000,
      sessionIdleTimeout: 604_800,
      refreshReuseGrace: 10,
      trustProxy: false,
    });
  });

  it('refuses bad values with one line per variable', () => {
    const bad = () =>
      loadConfig({
        PORT: 'eighty',
        ACCESS_TOKEN_TTL: '-5',
        DATABASE_URL: 'mysql://x',
        TRUST_PROXY: 'maybe',
        JWT_PRIVATE_KEY: '{"kty":"RSA"}',
      });
    expect(bad).toThrow(ConfigError);
    const message = (() => {
      try {
        bad();
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const name of ['PORT', 'ACCESS_TOKEN_TTL', 'DATABASE_URL', 'TRUST_PROXY', 'JWT_PRIVATE_KEY']) {
      expect(message).toMatch(new RegExp(`^  ${name}`, 'm'));
    }
  });

  it('accepts a private P-256 JWK and refuses a public one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    expect(loadConfig({ JWT_PRIVATE_KEY: JSON.stringify(await exportJWK(privateKey)) }).jwtPrivateKey).toBeDefined();
    const publicJwk = JSON.stringify(await exportJWK(publicKey));
    expect(() => loadConfig({ JWT_PRIVATE_KEY: publicJwk })).toThrow(/JWT_PRIVATE_KEY/);
  });
});

describe('schema.graphql', () => {
  it('is the current printed schema (run `npm run schema:print` when this fails)', () => {
    const committed = readFileSync(schemaFile, 'utf8');
    expect(committed, 'schema.graphql is stale: run `npm run schema:print` and commit it').toBe(printSortedSchema());
  });
});
