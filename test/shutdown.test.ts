import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { silentLogger } from '../src/logger.js';
import { testConfig, type TestEnv } from './helpers/app.js';
import { PASSWORD, uniqueEmail } from './helpers/auth-flows.js';
import { fakeClock } from './helpers/clock.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createGql } from './helpers/gql.js';

/**
 * These tests let the app open (and so close) its own database, as `npm start` does:
 * a PGlite folder of its own, or a fresh PostgreSQL database through DATABASE_URL.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function ownDatabaseEnv(): Promise<TestEnv> {
  if (backend === 'postgres') {
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    return { DATABASE_URL: database.url! };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tidepass-shutdown-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { DATA_DIR: dir };
}

describe('stopping a started server', () => {
  it('stops accepting, lets an in-flight request finish, then closes the database', async () => {
    const env = await ownDatabaseEnv();
    // The clock tells us when a request is inside a resolver: the moment to ask the app to stop.
    let onClock: (() => void) | undefined;
    const base = fakeClock();
    const clock = Object.assign(() => {
      onClock?.();
      return base();
    }, base);
    const app: App = await buildApp(testConfig(env), { clock, logger: silentLogger });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await app.stop();
    });
    const { url } = await app.start();
    const gql = createGql(fetch, url);
    // fetch keeps its connections alive after each answer: the shutdown must not wait for them.
    expect((await fetch(`${url}/health`)).status).toBe(200);

    let stopping: Promise<void> | undefined;
    let refused: Promise<unknown> | undefined;
    onClock = () => {
      onClock = undefined;
      stopping = app.stop();
      refused = fetch(`${url}/health`).then(
        () => 'answered',
        () => 'refused',
      );
    };
    const email = uniqueEmail();
    const inFlight = await gql(
      'mutation ($email: String!, $password: String!) { signUp(email: $email, password: $password) { user { email } session { ip } } }',
      { email, password: PASSWORD },
    );
    expect(stopping).toBeDefined();
    expect(inFlight.status).toBe(200);
    expect(inFlight.errors).toBeUndefined();
    // Without TRUST_PROXY the address is the socket's.
    expect(inFlight.data).toEqual({ signUp: { user: { email }, session: { ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/) } } });
    // A new connection during the shutdown is refused; the kept-alive one is told to close.
    expect(await refused).toBe('refused');
    expect(inFlight.headers.get('connection')).toBe('close');

    const started = performance.now();
    await stopping;
    stopped = true;
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await expect(app.database.ping()).rejects.toThrow();
  });
});

describe('the process', () => {
  // SIGINT goes through the same handler; one child process (a slow start) is enough.
  it.each(['SIGTERM'] as const)('exits 0 on %s after printing where GraphiQL is', async (signal) => {
    const env = await ownDatabaseEnv();
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });

    const lines = createInterface({ input: child.stdout });
    let started: { graphiql: string; database: string } | undefined;
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; graphiql: string; database: string };
      if (entry.msg === 'started') {
        started = entry;
        break;
      }
    }
    expect(started!.graphiql).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(started!.database).toMatch(backend === 'postgres' ? /postgresql/ : /PGlite/);
    const health = await fetch(started!.graphiql.replace('/graphql', '/health'));
    expect(health.status).toBe(200);

    child.kill(signal);
    expect(await exited).toBe(0);
    // A child process compiling TypeScript and opening a database is slow on a busy 2-core machine.
  }, 60_000);
});

describe.skipIf(backend !== 'pglite')('the embedded database folder (PGlite only)', () => {
  it('is created readable by its owner only, and left as it was if it already existed', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tidepass-perms-'));
    cleanups.push(() => rmSync(parent, { recursive: true, force: true }));
    const created = join(parent, 'new');
    const existing = join(parent, 'existing');
    mkdirSync(existing, { mode: 0o755 });
    for (const [dir, mode] of [[created, 0o700], [existing, 0o755]] as const) {
      const app = await buildApp(testConfig({ DATA_DIR: dir }), { logger: silentLogger });
      await app.stop();
      expect(statSync(dir).mode & 0o777).toBe(mode);
    }
  }, 120_000);
});
