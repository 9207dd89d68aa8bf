import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createJsonLogger } from '../src/logger.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { refuseInserts } from './helpers/faults.js';
import { login, PASSWORD, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { codes } from './helpers/gql.js';

/** Every JSON line the app logs. */
const lines: string[] = [];
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ logger: createJsonLogger({ level: 'debug', write: (line) => lines.push(line) }) });
});
afterAll(() => t?.close());

const get = (app: TestApp, path: string, headers: Record<string, string> = {}) =>
  app.app.yoga.fetch(`http://localhost${path}`, { headers });
const jwksOf = async (app: TestApp) => (await get(app, '/.well-known/jwks.json')).json() as Promise<{ keys: { kid: string }[] }>;

describe('health and readiness', () => {
  it('answers GET /health and GET /ready while the database answers', async () => {
    expect((await get(t, '/health')).status).toBe(200);
    expect((await get(t, '/ready')).status).toBe(200);
  });

  it('serves the JWKS as application/jwk-set+json', async () => {
    const response = await get(t, '/.well-known/jwks.json');
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    expect((await response.json()).keys).toHaveLength(1);
  });

  it('serves GraphiQL on GET /graphql to a browser outside production', async () => {
    const response = await get(t, '/graphql', { accept: 'text/html' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('tidepass');
  });

  it('serves no GraphiQL in production', async () => {
    const production = await createTestApp({ env: { NODE_ENV: 'production' }, clock: t.clock, database: t.database });
    try {
      const response = await get(production, '/graphql', { accept: 'text/html' });
      expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
      expect(await response.text()).not.toContain('<html');
    } finally {
      await production.close();
    }
  });

  describe('when the database stops answering', () => {
    let database: TestDatabase;
    let down: TestApp;
    const downLines: string[] = [];
    beforeAll(async () => {
      database = await createTestDatabase();
      down = await createTestApp({ database, clock: t.clock, logger: createJsonLogger({ write: (line) => downLines.push(line) }) });
    });
    afterAll(async () => {
      await down?.close();
      await database?.drop().catch(() => {});
    });

    it('says not ready, answers SERVICE_UNAVAILABLE without details, and stays up', async () => {
      const session = await signUp(down.gql);
      const ended = await login(down.gql, { email: session.user.email });
      await down.gql('mutation { logout }', {}, { token: ended.accessToken });
      await database.handle.close();

      expect((await get(down, '/ready')).status).not.toBe(200);
      expect((await get(down, '/health')).status).toBe(200);

      const loggedIn = await down.gql(`mutation { login(email: "a@example.com", password: "${PASSWORD}") { accessToken } }`);
      expect(loggedIn.errors).toEqual([
        {
          message: 'The service is temporarily unavailable.',
          locations: expect.any(Array),
          path: ['login'],
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        },
      ]);
      // An outage never reads as a bad credential.
      expect(codes(await down.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['SERVICE_UNAVAILABLE']);
      // me { id } comes from the token; the email needs the database.
      expect(codes(await down.gql('{ me { email } }', {}, { token: session.accessToken }))).toEqual([
        'SERVICE_UNAVAILABLE',
      ]);
      // Access tokens, and the revocation of their sessions, are checked without the database; and
      // the user's id comes from the token, so `me { id }` needs no query at all.
      const me = await down.gql('{ me { id } }', {}, { token: session.accessToken });
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: { id: session.user.id } });
      expect(codes(await down.gql('{ me { id } }', {}, { token: 'not-a-token' }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await down.gql('{ me { id } }', {}, { token: ended.accessToken }))).toEqual(['SESSION_REVOKED']);
    });

    it('logs the fault without the values of the failed queries', async () => {
      const session = await login(t.gql, { email: (await signUp(t.gql)).user.email });
      downLines.length = 0;
      expect(codes(await down.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['SERVICE_UNAVAILABLE']);
      const email = uniqueEmail();
      await down.gql(`mutation { signUp(email: "${email}", password: "${PASSWORD}") { accessToken } }`);

      const errors = downLines.map((line) => JSON.parse(line) as { level: string }).filter((entry) => entry.level === 'error');
      expect(errors.length).toBeGreaterThanOrEqual(2);
      const logged = downLines.join('\n');
      const { createHash } = await import('node:crypto');
      expect(logged).not.toContain(createHash('sha256').update(session.refreshToken).digest('hex'));
      expect(logged).not.toContain(session.refreshToken);
      expect(logged).not.toContain(email);
      expect(logged).not.toContain('$argon2id$');
    });

  });
});

describe('signing keys', () => {
  it('keeps the generated key in the database, so an instance started later accepts issued tokens', async () => {
    const session = await signUp(t.gql);
    const later = await createTestApp({ database: t.database, clock: t.clock });
    try {
      expect(await jwksOf(later)).toEqual(await jwksOf(t));
      const me = await later.gql('{ me { id } }', {}, { token: session.accessToken });
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: { id: session.user.id } });
      await refresh(later.gql, session.refreshToken);
    } finally {
      await later.close();
    }
  });

  it('signs with JWT_PRIVATE_KEY when it is given, and then trusts only that key', async () => {
    const stored = await signUp(t.gql);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const given = await createTestApp({
      env: { JWT_PRIVATE_KEY: JSON.stringify(jwk) },
      clock: t.clock,
      database: t.database,
    });
    try {
      const jwks = await jwksOf(given);
      // Without a kid in the JWK, the kid is its RFC 7638 thumbprint.
      expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'EC', x: jwk.x, y: jwk.y, kid: expect.any(String) })]);
      expect(jwks.keys[0]!.kid).not.toBe((await jwksOf(t)).keys[0]!.kid);
      expect(JSON.stringify(jwks)).not.toContain(jwk.d!);

      const session = await login(given.gql, { email: stored.user.email });
      expect(codes(await given.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual([]);
      // A token of the stored key is not ours any more, and the other way round.
      expect(codes(await given.gql('{ me { id } }', {}, { token: stored.accessToken }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await t.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual(['INVALID_TOKEN']);
    } finally {
      await given.close();
    }
  });
});

describe('rotating the signing key (JWT_VERIFICATION_KEYS)', () => {
  const newKey = async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { kty, crv, x, y, d } = await exportJWK(privateKey);
    const kid = crypto.randomUUID();
    return { private: { kty, crv, x, y, d, kid }, public: { kty, crv, x, y, kid } };
  };
  const withKeys = (signing: { kid: string }, ...accepted: { kid: string }[]) =>
    createTestApp({
      env: { JWT_PRIVATE_KEY: JSON.stringify(signing), JWT_VERIFICATION_KEYS: JSON.stringify(accepted) },
      clock: t.clock,
      database: t.database,
    });
  const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

  it('publishes the next key first, then signs with it while the previous one is still accepted: nobody is signed out', async () => {
    const [old, next] = [await newKey(), await newKey()];
    const user = await signUp(t.gql);
    // 1. Still signing with the old key, the next one published (verifiers fetch it before it signs).
    const before = await withKeys(old.private, next.public);
    // 2. Signing with the next key, the old one still accepted until its tokens have expired.
    const after = await withKeys(next.private, old.public);
    // 3. The old key's tokens have expired: it is dropped.
    const later = await withKeys(next.private);
    try {
      expect((await jwksOf(before)).keys.map((key) => key.kid)).toEqual([old.public.kid, next.public.kid]);
      expect((await jwksOf(after)).keys.map((key) => key.kid)).toEqual([next.public.kid, old.public.kid]);
      expect(JSON.stringify(await jwksOf(after))).not.toContain(next.private.d!);

      const signedBefore = await login(before.gql, { email: user.user.email });
      const signedAfter = await login(after.gql, { email: user.user.email });
      expect([kidOf(signedBefore.accessToken), kidOf(signedAfter.accessToken)]).toEqual([old.public.kid, next.public.kid]);
      for (const app of [before, after]) {
        for (const token of [signedBefore.accessToken, signedAfter.accessToken]) {
          expect(codes(await app.gql('{ me { id } }', {}, { token }))).toEqual([]);
        }
      }
      expect(codes(await later.gql('{ me { id } }', {}, { token: signedBefore.accessToken }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await later.gql('{ me { id } }', {}, { token: signedAfter.accessToken }))).toEqual([]);
    } finally {
      await Promise.all([before.close(), after.close(), later.close()]);
    }
  });

  it('accepts the stored key\'s tokens beside a given key, and refuses to start on a key that is not one, or a kid that names two keys', async () => {
    const stored = await signUp(t.gql);
    const storedKey = (await jwksOf(t)).keys[0] as { kid: string };
    const given = await newKey();
    const app = await withKeys(given.private, storedKey);
    try {
      expect(codes(await app.gql('{ me { id } }', {}, { token: stored.accessToken }))).toEqual([]);
    } finally {
      await app.close();
    }
    const offCurve = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'off-curve' };
    await expect(withKeys(given.private, offCurve)).rejects.toThrow(/JWT_VERIFICATION_KEYS: a key is not a point on P-256$/);
    const impostor = { ...(await newKey()).public, kid: given.public.kid };
    await expect(withKeys(given.private, impostor)).rejects.toThrow(
      /^Invalid configuration:\n {2}JWT_VERIFICATION_KEYS: kid "[^"]+" already names another key$/,
    );
  });
});

describe('an unexpected database error in development', () => {
  it("shows the fault's details to the client but not the failed query's values", async () => {
    const development = await createTestApp({ env: { NODE_ENV: 'development' }, clock: t.clock });
    try {
      const session = await signUp(development.gql);
      // A fault no code path expects: every insert into refresh_tokens fails.
      await refuseInserts(development.app.database.db, 'refresh_tokens');
      const email = uniqueEmail();
      const answers = [
        await development.gql(`mutation { signUp(email: "${email}", password: "${PASSWORD}") { accessToken } }`),
        await development.gql(REFRESH, { refreshToken: session.refreshToken }),
      ];
      for (const answer of answers) {
        expect(answer.errors?.[0]?.extensions).toMatchObject({
          code: 'INTERNAL_SERVER_ERROR',
          originalError: { message: expect.stringContaining('refused by a test trigger') },
        });
        const text = JSON.stringify(answer);
        expect(text).not.toContain(email);
        expect(text).not.toContain('$argon2id$');
        expect(text).not.toContain(createHash('sha256').update(session.refreshToken).digest('hex'));
        expect(text).not.toContain('params');
      }
    } finally {
      await development.close();
    }
  });
});

describe('configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      env: 'development',
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: './.data',
      jwtIssuer: 'http://localhost:4000',
      jwtAudience: 'tidepass',
      jwtPrivateKey: undefined,
      jwtVerificationKeys: [],
      accessTokenTtl: 900,
      refreshTokenTtl: 2_592_000,
      sessionIdleTimeout: 604_800,
      refreshReuseGrace: 10,
      trustProxy: false,
      sessionSweepInterval: 30,
      throttle: {
        loginFailuresPerAccount: { points: 5, window: 900 },
        loginFailuresPerIp: { points: 100, window: 3600 },
        signUpsPerIp: { points: 20, window: 3600 },
      },
      maxRequestBodyBytes: 65_536,
      maxSessionsPerUser: 10,
      sessionRetention: 2_592_000,
      authEventRetention: 7_776_000,
      corsOrigins: [],
      graphiql: true,
      revocationFeedKeys: [],
      revocationFeedMaxClients: 100,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://db.example/tidepass',
      DATA_DIR: '/var/lib/tidepass',
      JWT_ISSUER: 'https://auth.example',
      JWT_AUDIENCE: 'example-api',
      ACCESS_TOKEN_TTL: '300',
      REFRESH_TOKEN_TTL: '86400',
      SESSION_IDLE_TIMEOUT: '3600',
      REFRESH_REUSE_GRACE: '0',
      TRUST_PROXY: 'true',
      CORS_ORIGINS: 'https://app.example, http://localhost:5173',
      GRAPHIQL: 'true',
      REVOCATION_FEED_KEYS: ' feed-key-of-service-a-0123456789abcdef , feed-key-of-service-b-0123456789abcdef',
      REVOCATION_FEED_MAX_CLIENTS: '20',
    });
    expect(config).toMatchObject({
      env: 'production',
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://db.example/tidepass',
      dataDir: '/var/lib/tidepass',
      jwtIssuer: 'https://auth.example',
      jwtAudience: 'example-api',
      accessTokenTtl: 300,
      refreshTokenTtl: 86_400,
      sessionIdleTimeout: 3600,
      refreshReuseGrace: 0,
      trustProxy: true,
      corsOrigins: ['https://app.example', 'http://localhost:5173'],
      graphiql: true,
      revocationFeedKeys: ['feed-key-of-service-a-0123456789abcdef', 'feed-key-of-service-b-0123456789abcdef'],
      revocationFeedMaxClients: 20,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('throws one ConfigError that names every bad variable', () => {
    const bad = {
      PORT: 'eighty',
      DATABASE_URL: 'mysql://db.example/tidepass',
      JWT_PRIVATE_KEY: '{not json',
      ACCESS_TOKEN_TTL: '-5',
      REFRESH_TOKEN_TTL: '1.5',
      SESSION_IDLE_TIMEOUT: '0',
      REFRESH_REUSE_GRACE: 'soon',
      TRUST_PROXY: 'maybe',
      NODE_ENV: 'staging',
    };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of Object.keys(bad)) expect(message).toMatch(new RegExp(`^  ${name}: `, 'm'));
    expect(message.split('\n')).toHaveLength(Object.keys(bad).length + 1);
  });

  it.each([
    ['an RSA key', { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' }],
    ['a P-384 key', { kty: 'EC', crv: 'P-384', x: 'x', y: 'y', d: 'd' }],
    ['a public key without d', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }],
  ])('refuses %s as JWT_PRIVATE_KEY, in one line', (_name, jwk) => {
    expect(() => loadConfig({ JWT_PRIVATE_KEY: JSON.stringify(jwk) })).toThrow(
      /^Invalid configuration:\n {2}JWT_PRIVATE_KEY: must [^\n]+$/,
    );
  });

  it.each([
    ['not JSON', '[{'],
    ['one key, not an array', JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' })],
    ['a private key', JSON.stringify([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }])],
    ['a P-384 key', JSON.stringify([{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y' }])],
    ['an empty kid', JSON.stringify([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: '' }])],
  ])('refuses %s as JWT_VERIFICATION_KEYS, in one line', (_name, value) => {
    expect(() => loadConfig({ JWT_VERIFICATION_KEYS: value })).toThrow(
      /^Invalid configuration:\n {2}JWT_VERIFICATION_KEYS: [^\n]+$/,
    );
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });
});

describe('logs', () => {
  it('writes one JSON line per request with a request id, also returned in x-request-id', async () => {
    lines.length = 0;
    const response = await t.gql('{ __typename }', {}, { headers: { 'x-request-id': 'req-123' } });
    expect(response.headers.get('x-request-id')).toBe('req-123');
    const generated = await t.gql('{ __typename }');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toEqual([
      expect.objectContaining({ level: 'info', msg: 'request', requestId: 'req-123', path: '/graphql', status: 200 }),
      expect.objectContaining({ requestId: generated.headers.get('x-request-id') }),
    ]);
  });

  it('never logs passwords, tokens or token hashes', async () => {
    lines.length = 0;
    const email = uniqueEmail();
    const password = `secret-${crypto.randomUUID()}`;
    const first = await signUp(t.gql, { email, password });
    const second = await refresh(t.gql, first.refreshToken);
    await t.gql(REFRESH, { refreshToken: first.refreshToken });
    await t.gql(`mutation { login(email: "${email}", password: "wrong-${password}") { accessToken } }`);
    await t.gql('{ me { id } }', {}, { token: `${second.accessToken}x` });

    expect(lines.length).toBeGreaterThanOrEqual(5);
    const logged = lines.join('\n');
    const { createHash } = await import('node:crypto');
    for (const secret of [password, first.refreshToken, second.refreshToken, first.accessToken, second.accessToken]) {
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
    expect(logged).not.toContain(second.accessToken.split('.')[2]);
  });
});
