import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { rotateSigningKey } from '../src/auth/key-rotation.js';
import { SecretBox } from '../src/auth/secret-box.js';
import { openPglite } from '../src/db/client.js';
import { signingKeys } from '../src/db/schema.js';
import { TEST_KEY_ENCRYPTION_KEY, testConfig, useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { login, signUp } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes } from './helpers/gql.js';

const JWKS_MAX_AGE = 300;
const ACCESS_TOKEN_TTL = 900;
/** key-phases.ts: the old key stays this long beyond ACCESS_TOKEN_TTL. */
const MARGIN = 60;

const a = useTestApp();
const b = useTestApp({ beside: a });

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
async function jwks(app: TestApp) {
  const response = await app.app.yoga.fetch('http://localhost/.well-known/jwks.json');
  expect(response.headers.get('cache-control')).toBe(`public, max-age=${JWKS_MAX_AGE}`);
  return ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid).sort();
}
async function verifiesAtBoth(token: string) {
  for (const app of [a, b]) expect(codes(await app.gql('{ me { id } }', {}, { token }))).toEqual([]);
}
const rotate = () =>
  rotateSigningKey(a.database.handle.db, {
    clock: a.clock,
    secretBox: new SecretBox(testConfig().keyEncryptionKey!),
    jwksMaxAge: JWKS_MAX_AGE,
    accessTokenTtl: ACCESS_TOKEN_TTL,
  });

describe('rotate-signing-key, two instances on one database', () => {
  it('publishes first, signs after JWKS_MAX_AGE, retires after ACCESS_TOKEN_TTL: every token verifies at both instances throughout', async () => {
    const email = (await signUp(a.gql)).user.email;
    const before = await login(a.gql, { email });
    const [oldKid] = await jwks(a);
    expect(kidOf(before.accessToken)).toBe(oldKid);

    const rotation = await rotate();
    expect(rotation.signsFrom.getTime() - a.clock().getTime()).toBe(JWKS_MAX_AGE * 1000);
    await a.app.reloadSigningKeys();
    // Published at once (on the instance that has read the table; the other reads it within 30 s) …
    expect(await jwks(a)).toEqual([oldKid, rotation.kid].sort());
    // … but not signing yet: caches of the JWKS may still hold the old one.
    a.clock.advance(JWKS_MAX_AGE - 1);
    const during = await login(a.gql, { email });
    expect(kidOf(during.accessToken)).toBe(oldKid);
    await verifiesAtBoth(before.accessToken);
    await verifiesAtBoth(during.accessToken);

    a.clock.advance(1);
    const after = await login(a.gql, { email });
    expect(kidOf(after.accessToken)).toBe(rotation.kid);
    // b has not read the table yet: the unknown kid makes it read it, and the token is accepted.
    await verifiesAtBoth(after.accessToken);
    expect(await jwks(b)).toEqual([oldKid, rotation.kid].sort());
    expect(kidOf((await login(b.gql, { email })).accessToken)).toBe(rotation.kid);
    await verifiesAtBoth(during.accessToken);

    // The last token of the old key lives ACCESS_TOKEN_TTL: its key is published until then and beyond.
    a.clock.advance(ACCESS_TOKEN_TTL - 2);
    await verifiesAtBoth(during.accessToken);
    expect(await jwks(a)).toEqual([oldKid, rotation.kid].sort());
    a.clock.advance(MARGIN + 2);
    expect(await jwks(a)).toEqual([rotation.kid]);
    expect(await jwks(b)).toEqual([rotation.kid]);
    await verifiesAtBoth((await login(a.gql, { email })).accessToken);
    await verifiesAtBoth((await login(b.gql, { email })).accessToken);
  });

  it('a later rotation deletes the retired keys, and an instance started afterwards follows the same phases', async () => {
    const [current] = await jwks(a);
    const rotation = await rotate();
    await withTestApp({ beside: a }, async (later) => {
      expect(await jwks(later)).toEqual([current, rotation.kid].sort());
      a.clock.advance(JWKS_MAX_AGE + ACCESS_TOKEN_TTL + MARGIN);
      expect(await jwks(later)).toEqual([rotation.kid]);
      const next = await rotate();
      expect(next.deleted).toEqual([current]);
      await later.app.reloadSigningKeys();
      expect(await jwks(later)).toEqual([rotation.kid, next.kid].sort());
    });
  });
});

const execFileAsync = promisify(execFile);
const cli = (env: Record<string, string>) =>
  execFileAsync('npx', ['tsx', 'src/cli/main.ts', 'rotate-signing-key'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY, ...env },
    timeout: 120_000,
  }).then(
    (done) => ({ status: 0, ...done }),
    (failed: { code: number; stdout: string; stderr: string }) => ({ status: failed.code, stdout: failed.stdout, stderr: failed.stderr }),
  );

describe('npm run tidepass -- rotate-signing-key (a child process)', { timeout: 180_000 }, () => {
  it.runIf(backend === 'postgres')('rotates the key of a PostgreSQL database the instances then follow', async () => {
    // The command runs on the system clock: the apps' clock back to it (the tests above moved it on).
    a.clock.set(new Date());
    await Promise.all([a.app.reloadSigningKeys(), b.app.reloadSigningKeys()]);
    const before = await jwks(a);
    const run = await cli({ DATABASE_URL: a.database.url!, JWKS_MAX_AGE: String(JWKS_MAX_AGE) });
    expect(run.status).toBe(0);
    const printed = JSON.parse(run.stdout) as { kid: string; signsFrom: string };
    expect(run.stderr).toContain(`Published key ${printed.kid}`);
    await Promise.all([a.app.reloadSigningKeys(), b.app.reloadSigningKeys()]);
    expect(await jwks(b)).toEqual([...before, printed.kid].sort());
  });

  it.runIf(backend === 'pglite')('rotates the key of a PGlite directory (stopped server), which a server then follows', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tidepass-rotate-'));
    try {
      const run = await cli({ DATA_DIR: dataDir });
      expect(run.status).toBe(0);
      const printed = JSON.parse(run.stdout) as { kid: string };
      const handle = await openPglite(dataDir);
      const rows = await handle.db.select().from(signingKeys);
      expect(rows.map((row) => row.kid)).toContain(printed.kid);
      expect(rows).toHaveLength(2);
      // Sealed at rest, as the server's own.
      expect(JSON.stringify(rows)).not.toContain('"d"');
      await withTestApp({ database: { handle, url: undefined, drop: () => handle.close() } }, async (server) => {
        expect((await jwks(server)).sort()).toEqual(rows.map((row) => row.kid).sort());
      });
      await handle.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses with JWT_PRIVATE_KEY set, saying why', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const run = await cli({ JWT_PRIVATE_KEY: JSON.stringify(await exportJWK(privateKey)), DATA_DIR: join(tmpdir(), 'tidepass-never-opened') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('JWT_PRIVATE_KEY is set');
    expect(run.stderr).toContain('not ours to rotate');
    expect(run.stdout).toBe('');
  });
});
