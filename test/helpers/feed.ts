import { afterAll, afterEach, beforeAll } from 'vitest';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig, type TestEnv } from './app.js';
import { fakeClock, type FakeClock } from './clock.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createGql, type Gql } from './gql.js';

export const FEED_KEY = 'feed-key-of-the-downstream-service-0001';
export const OTHER_FEED_KEY = 'feed-key-of-the-downstream-service-0002';

export interface FeedApp {
  readonly app: App;
  readonly url: string;
  readonly clock: FakeClock;
  readonly gql: Gql;
  readonly database: TestDatabase;
  /** Stops the app; the database stays (another instance may use it). */
  stop(): Promise<void>;
}

/** An app listening on a port (the stream is served by node:http, not through yoga.fetch), with a feed key. */
export async function startFeedApp(
  options: {
    env?: TestEnv;
    clock?: FakeClock;
    database?: TestDatabase;
    revocationStream?: AppOptions['revocationStream'];
  } = {},
): Promise<FeedApp> {
  const clock = options.clock ?? fakeClock();
  const database = options.database ?? (await createTestDatabase());
  const app = await buildApp(testConfig({ REVOCATION_FEED_KEYS: `${FEED_KEY},${OTHER_FEED_KEY}`, ...options.env }), {
    database: database.handle,
    clock,
    logger: silentLogger,
    listenHeartbeatMs: 200,
    revocationStream: options.revocationStream,
  });
  const { url } = await app.start();
  return { app, url, clock, database, gql: createGql(fetch, url), stop: () => app.stop() };
}

type FeedAppOptions = NonNullable<Parameters<typeof startFeedApp>[0]>;

/**
 * One database for the file (creating one is the slow part); each test starts its own instances and
 * users on it with `start`, and everything started or handed to `defer` is stopped after the test.
 */
export function useFeedApps(defaults: FeedAppOptions = {}) {
  const cleanups: (() => unknown)[] = [];
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database?.drop());
  const shared = (): TestDatabase => {
    if (!database) throw new Error('useFeedApps: the database is made in beforeAll');
    return database;
  };
  return {
    get database(): TestDatabase {
      return shared();
    },
    async start(options: FeedAppOptions = {}): Promise<FeedApp> {
      const app = await startFeedApp({ ...defaults, ...options, database: options.database ?? shared() });
      cleanups.push(() => app.stop());
      return app;
    },
    defer(cleanup: () => unknown): void {
      cleanups.push(cleanup);
    },
  };
}

export interface SseEvent {
  readonly event?: string;
  readonly id?: string;
  readonly data?: string;
  readonly comment?: string;
}

/** The events of an SSE response as they arrive; enough of the format for what tidepass writes. */
export function readSse(response: Response) {
  const events: SseEvent[] = [];
  let ended = false;
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const done = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { done: finished, value } = await reader.read();
        if (finished) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          events.push(parseBlock(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // cancelled or cut: `ended` says so
    }
    ended = true;
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    done,
    /** The data of the `revoked` events, parsed. */
    revoked: () =>
      events
        .filter((e) => e.event === 'revoked')
        .map((e) => ({ id: e.id, ...(JSON.parse(e.data!) as { sessionId: string; userId: string; reason: string; endedAt: string }) })),
    cancel: () => reader.cancel().catch(() => {}),
  };
}

function parseBlock(block: string): SseEvent {
  const event: Record<string, string> = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) event.comment = line.slice(1).trim();
    else {
      const colon = line.indexOf(':');
      event[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
    }
  }
  return event;
}

export function openFeed(url: string, options: { key?: string | null; lastEventId?: string } = {}): Promise<Response> {
  const key = options.key === undefined ? FEED_KEY : options.key;
  return fetch(`${url}/revocations`, {
    headers: {
      accept: 'text/event-stream',
      ...(key !== null && { authorization: `Bearer ${key}` }),
      ...(options.lastEventId && { 'last-event-id': options.lastEventId }),
    },
  });
}

/** A fetch for the verifier that goes to whichever instance the test names: a restart or a switch of instance. */
export function switchableFetch(initial: string) {
  let target = initial;
  const base = 'http://tidepass.test';
  return {
    base,
    switchTo(url: string) {
      target = url;
    },
    fetch: ((input: string | URL | Request, init?: RequestInit) =>
      fetch((input instanceof Request ? input.url : input.toString()).replace(base, target), init)) as typeof fetch,
  };
}
