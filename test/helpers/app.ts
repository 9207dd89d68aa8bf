import { afterAll, beforeAll } from 'vitest';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { fakeClock, type FakeClock } from './clock.js';
import { backend, createTestDatabase, separatePool, type TestDatabase } from './database.js';
import { createGql, type Gql } from './gql.js';

export interface TestApp {
  readonly app: App;
  readonly clock: FakeClock;
  readonly gql: Gql;
  readonly database: TestDatabase;
  close(): Promise<void>;
}

/** Environment variables as the server would read them; defaults suit tests. */
export type TestEnv = Record<string, string>;

/** Every test app's KEY_ENCRYPTION_KEY unless a test sets another (or '' for none): apps beside one another share it. */
export const TEST_KEY_ENCRYPTION_KEY = Buffer.alloc(32, 'tidepass-test').toString('base64url');

export function testConfig(env: TestEnv = {}): Config {
  // Test files sign up many users from one address (in-process requests share the 'unknown' IP).
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    SIGNUP_MAX_PER_IP: '100000',
    KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
    ...env,
  });
}

export interface TestAppOptions {
  env?: TestEnv;
  /** Another instance beside this app: the same database and clock (overrides database and clock). */
  beside?: TestApp;
  /** With beside, on PostgreSQL: a connection pool of its own, as a second process has (PGlite has one). */
  separatePool?: boolean;
  clock?: FakeClock;
  database?: TestDatabase;
  logger?: Logger;
  listenHeartbeatMs?: number;
  listenTimeoutMs?: number;
  pageDirectory?: URL;
  pendingEndTimer?: AppOptions['pendingEndTimer'];
  pendingEndCapacity?: number;
  mailTimer?: AppOptions['mailTimer'];
  webhooks?: AppOptions['webhooks'];
}

/** A whole app on its own fresh database with a fake clock, reached through yoga.fetch. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const clock = options.beside?.clock ?? options.clock ?? fakeClock();
  const { database, owned } = await databaseOf(options);
  const app = await buildApp(testConfig(options.env), {
    database: database.handle,
    clock,
    logger: options.logger ?? silentLogger,
    listenHeartbeatMs: options.listenHeartbeatMs,
    listenTimeoutMs: options.listenTimeoutMs,
    pageDirectory: options.pageDirectory,
    pendingEndTimer: options.pendingEndTimer,
    pendingEndCapacity: options.pendingEndCapacity,
    mailTimer: options.mailTimer,
    webhooks: options.webhooks,
  });
  return {
    app,
    clock,
    database,
    gql: createGql((url, init) => app.yoga.fetch(url, init)),
    close: async () => {
      await app.stop();
      if (owned) await database.drop();
    },
  };
}

async function databaseOf(options: TestAppOptions): Promise<{ database: TestDatabase; owned: boolean }> {
  if (options.beside) {
    const shared = options.beside.database;
    if (options.separatePool && backend === 'postgres') return { database: separatePool(shared), owned: true };
    return { database: shared, owned: false };
  }
  if (options.database) return { database: options.database, owned: false };
  return { database: await createTestDatabase(), owned: true };
}

/** Runs `use` on an app of its own, closed afterwards whatever happens. */
export async function withTestApp<T>(options: TestAppOptions, use: (app: TestApp) => Promise<T>): Promise<T> {
  const app = await createTestApp(options);
  try {
    return await use(app);
  } finally {
    await app.close();
  }
}

export interface StartedTestApp extends TestApp {
  /** The base URL of its real port (http://127.0.0.1:port), for WebSocket and real HTTP clients. */
  readonly url: string;
}

type Lazy<T> = T | (() => T | Promise<T>);

/**
 * An app for the enclosing file or describe: created in beforeAll, closed in afterAll. Options may be
 * a function, read in beforeAll (when they need what another hook made).
 */
export function useTestApp(options: Lazy<TestAppOptions> = {}): TestApp {
  return handleOf(useApp(options, false));
}

/** useTestApp, also listening on a real port (its url). */
export function useStartedApp(options: Lazy<TestAppOptions> = {}): StartedTestApp {
  const current = useApp(options, true);
  return Object.defineProperty(handleOf(current), 'url', { get: () => current().url, enumerable: true }) as StartedTestApp;
}

function useApp(options: Lazy<TestAppOptions>, listen: boolean): () => StartedTestApp {
  let made: StartedTestApp | undefined;
  beforeAll(async () => {
    const app = await createTestApp(typeof options === 'function' ? await options() : options);
    // Kept before it listens, so that afterAll closes it even when start() fails.
    made = { ...app, url: '' };
    if (listen) made = { ...app, url: (await app.app.start()).url };
  });
  afterAll(() => made?.close());
  return () => {
    if (!made) throw new Error('the test app is made in beforeAll: read it inside a hook or a test');
    return made;
  };
}

/** A TestApp whose members are read when used, so that it can be declared before beforeAll has run. */
function handleOf(current: () => TestApp): TestApp {
  return {
    get app() {
      return current().app;
    },
    get clock() {
      return current().clock;
    },
    get gql() {
      return current().gql;
    },
    get database() {
      return current().database;
    },
    close: () => current().close(),
  };
}
