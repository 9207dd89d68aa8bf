import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { fakeClock, type FakeClock } from './clock.js';
import { createTestDatabase, type TestDatabase } from './database.js';
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

export function testConfig(env: TestEnv = {}): Config {
  // Test files sign up many users from one address (in-process requests share the 'unknown' IP).
  return loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', SIGNUP_MAX_PER_IP: '100000', ...env });
}

/** A whole app on its own fresh database with a fake clock, reached through yoga.fetch. */
export async function createTestApp(
  options: {
    env?: TestEnv;
    clock?: FakeClock;
    database?: TestDatabase;
    logger?: Logger;
    listenHeartbeatMs?: number;
    pageDirectory?: URL;
    pendingEndTimer?: AppOptions['pendingEndTimer'];
    pendingEndCapacity?: number;
  } = {},
): Promise<TestApp> {
  const clock = options.clock ?? fakeClock();
  const database = options.database ?? (await createTestDatabase());
  const app = await buildApp(testConfig(options.env), {
    database: database.handle,
    clock,
    logger: options.logger ?? silentLogger,
    listenHeartbeatMs: options.listenHeartbeatMs,
    pageDirectory: options.pageDirectory,
    pendingEndTimer: options.pendingEndTimer,
    pendingEndCapacity: options.pendingEndCapacity,
  });
  return {
    app,
    clock,
    database,
    gql: createGql((url, init) => app.yoga.fetch(url, init)),
    close: async () => {
      await app.stop();
      if (!options.database) await database.drop();
    },
  };
}
