import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import { createJsonLogger } from '../src/logger.js';
import { createTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { login, REFRESH, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { manualTimers, type ManualTimers } from './helpers/clock.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { sessionWritesUnavailable } from './helpers/faults.js';
import { codes, type Gql } from './helpers/gql.js';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, wsClient } from './helpers/ws.js';

/**
 * A logout the database cannot write: the instance refuses the session itself at once and writes
 * the end by itself once the database is back. On PostgreSQL the instance under test (A) reaches
 * the database through a proxy that the outage cuts, and a second instance (B) reaches it directly;
 * on PGlite (one process, no connection to cut) the database refuses every change to sessions as a
 * server starting up does.
 */
const ME = '{ me { id } }';
/**
 * Each waits for up to 15 s twice (an end on B, then the retry on A, whose first attempt after the
 * outage may meet a connection the cut left dead and wait out the 4 s read watchdog): more than the
 * default 30 s on a loaded machine, though it takes milliseconds on a quiet one.
 */
const OUTAGE_TEST_MS = 60_000;
const EVENTS = '{ myAuthEvents(first: 50) { type sessionId reason } }';

describe('logout while the database is unavailable', () => {
  let database: TestDatabase;
  let proxy: TcpProxy | undefined;
  let timers: ManualTimers;
  let a: TestApp;
  let aUrl: string;
  let b: TestApp | undefined;
  let outage: { begin(): Promise<void>; end(): Promise<void> };

  beforeAll(async () => {
    database = await createTestDatabase();
    timers = manualTimers();
    if (backend === 'postgres') {
      const direct = new URL(database.url!);
      const cutOff = await createTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
      proxy = cutOff;
      const handle = connectPostgres(cutOff.urlFor(database.url!));
      a = await createTestApp({
        database: { handle, url: handle.url, drop: () => handle.close() },
        pendingEndTimer: timers.timer,
      });
      b = await createTestApp({ database, clock: a.clock });
      outage = { begin: async () => cutOff.cut(), end: async () => cutOff.restore() };
    } else {
      a = await createTestApp({ database, pendingEndTimer: timers.timer });
      let endOutage: (() => Promise<void>) | undefined;
      outage = {
        begin: async () => {
          endOutage = await sessionWritesUnavailable(database.handle.db);
        },
        end: async () => endOutage?.(),
      };
    }
    aUrl = (await a.app.start()).url;
  });
  afterAll(async () => {
    await a?.close();
    if (a?.database !== database) await a?.database.drop();
    await b?.close();
    await proxy?.close();
    await database?.drop();
  });

  async function authEvents(gql: Gql, token: string) {
    const result = await gql<{ myAuthEvents: { type: string; sessionId: string | null; reason: string | null }[] }>(
      EVENTS,
      {},
      { token },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.myAuthEvents;
  }

  /** Fires the retry until it has committed: the first after a reconnect may still meet a dead connection. */
  async function retryUntilCommitted() {
    await eventually(async () => {
      await timers.fire();
      return a.app.pendingEndCount === 0;
    }, 15_000);
  }

  it('refuses the session on this instance at once, tells its subscriber, and ends it for good by itself once the database is back', async () => {
    const { laptop, phone } = await twoDevices(a.gql);
    const socket = wsClient(aUrl, { token: phone.accessToken });
    const feed = collectRevocations(socket);
    const subscribers = a.app.revocationFeed.subscriberCount;
    await connected(socket);
    await eventually(() => a.app.revocationFeed.subscriberCount > subscribers);

    await outage.begin();
    try {
      expect(codes(await a.gql('mutation { logout }', {}, { token: phone.accessToken }))).toEqual(['SERVICE_UNAVAILABLE']);
      // Refused here without the database; its subscriber hears the end and its socket is closed.
      expect(codes(await a.gql(ME, {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
      await feed.next(1);
      expect(feed.events).toEqual([{ sessionId: phone.session.id, reason: 'LOGOUT', revokedAt: expect.any(String), current: true }]);
      expect(await socket.closed).toEqual({ code: 4403, reason: 'Session revoked' });
      // What remains until it commits: another instance has not heard of it.
      if (b) expect(codes(await b.gql(ME, {}, { token: phone.accessToken }))).toEqual([]);

      // Retried in the background, backing off while the database stays away.
      expect(a.app.pendingEndCount).toBe(1);
      expect(timers.armed).toEqual([1000]);
      await timers.fire();
      expect(timers.armed).toEqual([2000]);
      await timers.fire();
      expect(timers.armed).toEqual([4000]);
      expect(a.app.pendingEndCount).toBe(1);
    } finally {
      await outage.end();
    }

    // No further request: the next retry commits it.
    await retryUntilCommitted();
    expect(timers.armed).toEqual([]);
    expect(codes(await a.gql(REFRESH, { refreshToken: phone.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
    if (b) {
      const other = b;
      await eventually(async () => codes(await other.gql(ME, {}, { token: phone.accessToken }))[0] === 'SESSION_REVOKED');
    }
    const sessions = await a.gql<{ mySessions: { id: string }[] }>('{ mySessions { id } }', {}, { token: laptop.accessToken });
    expect(sessions.data?.mySessions.map((session) => session.id)).toEqual([laptop.session.id]);
    const ends = (await authEvents(a.gql, laptop.accessToken)).filter((event) => event.type === 'SESSION_REVOKED');
    expect(ends).toEqual([{ type: 'SESSION_REVOKED', sessionId: phone.session.id, reason: 'LOGOUT' }]);
  }, OUTAGE_TEST_MS);

  it('drops a pending end that finds its session already ended', async () => {
    const { laptop, phone } = await twoDevices(a.gql);
    await outage.begin();
    try {
      // On PostgreSQL, once the instance has noticed its LISTEN connection is gone: then whether the
      // session has ended cannot be read either, and the logout is kept pending without a write.
      if (backend === 'postgres') await eventually(() => !a.app.revocations.synchronised);
      expect(codes(await a.gql('mutation { logout }', {}, { token: phone.accessToken }))).toEqual(['SERVICE_UNAVAILABLE']);
    } finally {
      await outage.end();
    }
    // Ended otherwise before the retry (on B, if there is one: it never lost the database).
    const { gql } = b ?? a;
    await eventually(async () => {
      const revoked = await gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
      return revoked.data?.revokeDevice === true;
    }, 15_000);
    expect(a.app.pendingEndCount).toBe(1);

    await retryUntilCommitted();
    expect(timers.armed).toEqual([]);
    // Nothing written twice: the end stays the one that happened.
    const ends = (await authEvents(a.gql, laptop.accessToken)).filter((event) => event.type === 'SESSION_REVOKED');
    expect(ends).toEqual([{ type: 'SESSION_REVOKED', sessionId: phone.session.id, reason: 'REVOKED_BY_USER' }]);
  }, OUTAGE_TEST_MS);
});

describe('pending session ends (the database refusing changes to sessions)', () => {
  it('keeps at most the configured number, dropping the oldest with a warning', async () => {
    const timers = manualTimers();
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line) });
    await withTestApp({ pendingEndTimer: timers.timer, pendingEndCapacity: 2, logger }, async (t) => {
      const email = uniqueEmail();
      const first = await signUp(t.gql, { email });
      const others = [await login(t.gql, { email }), await login(t.gql, { email })];
      const endOutage = await sessionWritesUnavailable(t.app.database.db);
      for (const session of [first, ...others]) {
        expect(codes(await t.gql('mutation { logout }', {}, { token: session.accessToken }))).toEqual(['SERVICE_UNAVAILABLE']);
        // Every one of them refused here, the dropped one included.
        expect(codes(await t.gql(ME, {}, { token: session.accessToken }))).toEqual(['SESSION_REVOKED']);
      }
      expect(t.app.pendingEndCount).toBe(2);
      expect(lines.filter((line) => line.includes('dropped the oldest'))).toHaveLength(1);
      await endOutage();

      await timers.fire();
      expect(t.app.pendingEndCount).toBe(0);
      for (const session of others) {
        expect(codes(await t.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
      }
      // The oldest was never written: its session lives on in the database.
      expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual([]);
    });
  });

  it('stops retrying at shutdown, without waiting for the database', async () => {
    const timers = manualTimers();
    const t = await createTestApp({ pendingEndTimer: timers.timer });
    const session = await signUp(t.gql);
    await sessionWritesUnavailable(t.app.database.db);
    expect(codes(await t.gql('mutation { logout }', {}, { token: session.accessToken }))).toEqual(['SERVICE_UNAVAILABLE']);
    expect(timers.armed).toEqual([1000]);
    await t.close();
    expect(timers.armed).toEqual([]);
    expect(t.app.pendingEndCount).toBe(0);
  });
});
