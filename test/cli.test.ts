import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../src/db/client.js';
import { createTestApp, TEST_KEY_ENCRYPTION_KEY } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** The command line as an operator runs it: a child process, configured by its environment only. */
function tidepass(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'test', KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY, ...env }, timeout: 180_000 },
      (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe(`the command line against ${backend === 'postgres' ? 'PostgreSQL (a fresh database)' : 'PGlite (a temporary directory)'}`, { timeout: 240_000 }, () => {
  let env: Record<string, string>;
  let directory: string | undefined;
  let postgres: TestDatabase | undefined;

  beforeAll(async () => {
    if (backend === 'postgres') {
      postgres = await createTestDatabase();
      env = { DATABASE_URL: postgres.url! };
    } else {
      directory = mkdtempSync(join(tmpdir(), 'tidepass-cli-'));
      env = { DATA_DIR: join(directory, 'data') };
    }
  }, 240_000);
  afterAll(async () => {
    await postgres?.drop();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** A user signed up through the API on the same database (PGlite: while no command holds the directory). */
  async function signedUpUser(): Promise<string> {
    const email = uniqueEmail('cli');
    const handle = postgres?.handle ?? (await openPglite(env['DATA_DIR']));
    const app = await createTestApp({ database: { handle, url: postgres?.url, drop: async () => {} } });
    try {
      await signUp(app.gql, { email });
      return email;
    } finally {
      await app.close();
      if (!postgres) await handle.close();
    }
  }

  it('migrate applies the migrations to a fresh database (exit 0), and again changes nothing', async () => {
    const first = await tidepass(env, 'migrate');
    expect(first).toMatchObject({ status: 0, stdout: '' });
    expect(first.stderr).toMatch(/^Migrated/);
    expect((await tidepass(env, 'migrate')).status).toBe(0);
  });

  it('grant-admin makes an existing user an admin; an unknown email is exit 1 on stderr; a missing argument exit 2', async () => {
    const email = await signedUpUser();
    expect(await tidepass(env, 'grant-admin', email.toUpperCase())).toMatchObject({ status: 0, stderr: `${email} is now an admin.\n` });
    const unknown = await tidepass(env, 'grant-admin', 'nobody@example.com');
    expect(unknown).toMatchObject({ status: 1, stdout: '', stderr: 'No user with the email nobody@example.com.\n' });
    const missing = await tidepass(env, 'grant-admin');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^grant-admin takes <email>/);
  });

  it('print-jwks prints the public keys the server publishes, nothing private', async () => {
    const run = await tidepass(env, 'print-jwks');
    expect(run.status).toBe(0);
    const jwks = JSON.parse(run.stdout) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('sweep runs the retention sweep and prints its counts', async () => {
    const run = await tidepass(env, 'sweep');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ sessions: 0, refreshTokens: 0, authEvents: 0, deletedSessions: 0 });
  });

  it('--help for each command (exit 0, stdout); an unknown command or option is exit 2 on stderr; a bad configuration exit 1', async () => {
    for (const command of ['migrate', 'grant-admin', 'print-jwks', 'sweep']) {
      const help = await tidepass({}, command, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: npm run tidepass -- ${command}`));
    }
    expect(await tidepass({}, 'frobnicate')).toMatchObject({ status: 2, stdout: '' });
    expect((await tidepass({}, 'sweep', '--force')).status).toBe(2);
    const badConfig = await tidepass({ ACCESS_TOKEN_TTL: 'soon' }, 'migrate');
    expect(badConfig.status).toBe(1);
    expect(badConfig.stderr).toMatch(/ACCESS_TOKEN_TTL/);
  });
});
