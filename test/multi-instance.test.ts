import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import { listenApplicationName, REVOCATION_CHANNEL } from '../src/events/postgres-bus.js';
import { createTestApp, useStartedApp, useTestApp, type TestApp } from './helpers/app.js';
import { login, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes } from './helpers/gql.js';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, wsClient } from './helpers/ws.js';

/** Two instances need a shared server database: these run on PostgreSQL only. */
describe.skipIf(backend !== 'postgres')('two instances on one PostgreSQL (PostgreSQL only)', () => {
  const a = useTestApp();
  // B has its own pool and its own LISTEN connection on the same database.
  const b = useStartedApp({ beside: a, separatePool: true });
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(a.database.url!, { max: 1, onnotice: () => {} });
  });
  afterAll(() => admin.end());

  it('a revokeDevice on A reaches a subscriber on B and is refused by B within 100 ms', async () => {
    const { laptop, phone } = await twoDevices(a.gql);
    expect((await b.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
    const client = wsClient(b.url, { token: laptop.accessToken });
    const feed = collectRevocations(client);
    await connected(client);
    await eventually(() => b.app.revocationFeed.subscriberCount > 0);

    const revoked = await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    const answered = performance.now();
    expect(revoked.data).toEqual({ revokeDevice: true });

    const refusedOnB = (async () => {
      while (codes(await b.gql('{ me { id } }', {}, { token: phone.accessToken }))[0] !== 'SESSION_REVOKED') {
        await new Promise((resolve) => setImmediate(resolve));
      }
      return performance.now() - answered;
    })();
    await feed.next(1);
    const eventMs = performance.now() - answered;
    const refusedMs = await refusedOnB;
    expect(feed.events[0]).toMatchObject({ sessionId: phone.session.id, reason: 'REVOKED_BY_USER', current: false });
    expect(eventMs).toBeLessThan(100);
    expect(refusedMs).toBeLessThan(100);
    await client.dispose();
  });

  it("after B's LISTEN connection is terminated while A revokes, B refuses the token and reloads", async () => {
    const { laptop, phone } = await twoDevices(a.gql);
    expect((await b.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
    // B's own LISTEN connection, by its application_name (A listens on the same database too).
    const [listener] = await admin<{ pid: number }[]>`
      select pid from pg_stat_activity where application_name = ${listenApplicationName(b.app.instanceId)}`;
    expect(listener).toBeDefined();
    await admin`select pg_terminate_backend(${listener!.pid})`;
    // The backend is gone at once, but B learns it only when its socket closes: a revocation committed
    // before that would find B still trusting its set, with a notification that never comes.
    await eventually(() => !b.app.revocations.synchronised);
    await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });

    // Whether B is still reconnecting (checks the database) or has reloaded (the set), it refuses.
    expect(codes(await b.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    await eventually(() => b.app.revocations.synchronised && b.app.revocations.has(phone.session.id));
    expect(codes(await b.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect((await b.gql('{ me { id } }', {}, { token: laptop.accessToken })).errors).toBeUndefined();
  });

  it('tells live subscribers on B of sessions it learns ended only from the reload after a LISTEN gap, each once, and closes their sockets 4403', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(a.gql, { email, deviceName: 'laptop' });
    const phone = await login(a.gql, { email, deviceName: 'phone' });
    const tablet = await login(a.gql, { email, deviceName: 'tablet' });
    const watcher = wsClient(b.url, { token: laptop.accessToken });
    const watcherFeed = collectRevocations(watcher);
    const own = wsClient(b.url, { token: phone.accessToken });
    const ownFeed = collectRevocations(own);
    const before = b.app.revocationFeed.subscriberCount;
    await Promise.all([connected(watcher), connected(own)]);
    await eventually(() => b.app.revocationFeed.subscriberCount >= before + 2);

    // The tablet ends while B listens: B hears it live, and must not announce it again after the reload.
    await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: tablet.session.id }, { token: laptop.accessToken });
    await watcherFeed.next(1);

    // The phone ends without B hearing it: what a revocation made while B's LISTEN connection is down
    // amounts to (ended in the database, its notification never reaching B).
    // Ended by hand, but saying it announces its ends itself (as the app's connections do), so that the
    // trigger that announces ends made by hand stays silent: the end reaches B only through its reload.
    await admin.begin(async (tx) => {
      await tx`select set_config('tidepass.announces_ends', 'on', true)`;
      await tx`update sessions set ended_at = ${a.clock()}, end_reason = 'ADMIN' where id = ${phone.session.id}`;
    });
    const [listener] = await admin<{ pid: number }[]>`
      select pid from pg_stat_activity where application_name = ${listenApplicationName(b.app.instanceId)}`;
    await admin`select pg_terminate_backend(${listener!.pid})`;

    // B reconnects, reloads, and tells its subscribers as if it had heard it live.
    await eventually(() => own.closes.length > 0, 5000);
    expect(own.closes).toEqual([{ code: 4403, reason: 'Session revoked' }]);
    expect(ownFeed.events.map(({ sessionId, current }) => ({ sessionId, current }))).toEqual([
      { sessionId: tablet.session.id, current: false },
      { sessionId: phone.session.id, current: true },
    ]);
    await watcherFeed.next(2);
    expect(watcherFeed.events.map(({ sessionId, reason, current }) => ({ sessionId, reason, current }))).toEqual([
      { sessionId: tablet.session.id, reason: 'REVOKED_BY_USER', current: false },
      { sessionId: phone.session.id, reason: 'ADMIN', current: false },
    ]);
    expect(b.app.revocations.synchronised).toBe(true);
    expect(codes(await b.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(watcher.closes).toEqual([]);
    await watcher.dispose();
  });

  /** A third instance that reaches the database through a proxy, which can cut it off or freeze a connection. */
  async function instanceBehindProxy(options: { listenHeartbeatMs?: number } = {}) {
    const proxy = await createTcpProxy({ host: new URL(a.database.url!).hostname, port: Number(new URL(a.database.url!).port || 5432) });
    const cHandle = connectPostgres(proxy.urlFor(a.database.url!));
    const c = await createTestApp({
      database: { handle: cHandle, url: cHandle.url, drop: () => cHandle.close() },
      clock: a.clock,
      ...options,
    });
    const { url } = await c.app.start();
    const close = async () => {
      await c.close();
      await cHandle.close();
      await proxy.close();
    };
    return { c, url, proxy, close };
  }

  it('replaces a LISTEN connection that went silent without closing (heartbeat), then refuses and reloads', async () => {
    // C reaches the database through a proxy that can freeze one connection without a FIN.
    const { c, proxy, close } = await instanceBehindProxy({ listenHeartbeatMs: 100 });
    try {
      const { laptop, phone } = await twoDevices(a.gql);
      expect((await c.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
      const listenName = Buffer.from(listenApplicationName(c.app.instanceId));
      expect(proxy.blackhole((startup) => startup.includes(listenName))).toBe(1);
      await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });

      // The frozen connection would never tell; the unanswered probe does, within two intervals.
      await eventually(async () => codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))[0] === 'SESSION_REVOKED', 2000);
      await eventually(() => c.app.revocations.synchronised && c.app.revocations.has(phone.session.id), 3000);
      // Listening again on a new connection: the next revocation arrives as a notification.
      const other = await login(a.gql, { email: laptop.user.email });
      await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: other.session.id }, { token: laptop.accessToken });
      await eventually(() => c.app.revocations.has(other.session.id), 1000);
      expect((await c.gql('{ me { id } }', {}, { token: laptop.accessToken })).errors).toBeUndefined();
    } finally {
      await close();
    }
  });

  /**
   * Deletes in SQL while C cannot hear it: its connections are cut at the proxy and new ones refused,
   * so its LISTEN connection is down before the DELETE commits and comes back only after (a
   * terminated backend would reconnect within 100 ms, perhaps before the DELETE, and hear it).
   */
  async function deleteWhileCutOff(c: TestApp, proxy: TcpProxy, statement: () => Promise<unknown>) {
    proxy.cut();
    await eventually(() => !c.app.revocations.synchronised);
    await statement();
    proxy.restore();
  }

  it('a live session deleted in SQL while an instance is cut off from the database: after its reload it refuses the token and tells subscribers', async () => {
    const { c, url: cUrl, proxy, close } = await instanceBehindProxy();
    const { laptop, phone } = await twoDevices(a.gql);
    const watcher = wsClient(cUrl, { token: laptop.accessToken });
    const watcherFeed = collectRevocations(watcher);
    const own = wsClient(cUrl, { token: phone.accessToken });
    const ownFeed = collectRevocations(own);
    try {
      await Promise.all([connected(watcher), connected(own)]);
      await eventually(() => c.app.revocationFeed.subscriberCount >= 2);
      expect((await c.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();

      await deleteWhileCutOff(c, proxy, () => admin`delete from sessions where id = ${phone.session.id}`);

      // The row is gone; its tombstone is what C's reload finds.
      await eventually(() => own.closes.length > 0);
      expect(own.closes).toEqual([{ code: 4403, reason: 'Session revoked' }]);
      expect(ownFeed.events.map(({ sessionId, reason, current }) => ({ sessionId, reason, current }))).toEqual([
        { sessionId: phone.session.id, reason: 'ADMIN', current: true },
      ]);
      await watcherFeed.next(1);
      expect(watcherFeed.events.map(({ sessionId, reason, current }) => ({ sessionId, reason, current }))).toEqual([
        { sessionId: phone.session.id, reason: 'ADMIN', current: false },
      ]);
      expect(c.app.revocations.synchronised).toBe(true);
      expect(codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
      expect((await c.gql('{ me { id } }', {}, { token: laptop.accessToken })).errors).toBeUndefined();
      expect(watcher.closes).toEqual([]);
    } finally {
      await watcher.dispose();
      await close();
    }
  });

  it("a user deleted in SQL while an instance is cut off from the database, just after one of its sessions ended: after its reload it refuses both tokens and closes their sockets", async () => {
    const { c, url: cUrl, proxy, close } = await instanceBehindProxy();
    const { laptop, phone } = await twoDevices(a.gql);
    const sockets = [laptop, phone].map((device) => {
      const client = wsClient(cUrl, { token: device.accessToken });
      return { client, feed: collectRevocations(client) };
    });
    try {
      await Promise.all(sockets.map(({ client }) => connected(client)));
      await eventually(() => c.app.revocationFeed.subscriberCount >= 2);

      // The laptop ends, then the user and both sessions go by cascade: the laptop's row was the
      // only trace of its end, and it was not announced again.
      await deleteWhileCutOff(c, proxy, async () => {
        await a.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: laptop.session.id }, { token: phone.accessToken });
        await admin`delete from users where id = ${phone.user.id}`;
      });

      await eventually(() => sockets.every(({ client }) => client.closes.length > 0));
      const [laptopSocket, phoneSocket] = sockets;
      for (const { client } of sockets) expect(client.closes).toEqual([{ code: 4403, reason: 'Session revoked' }]);
      expect(laptopSocket!.feed.events.find((event) => event.current)).toMatchObject({ sessionId: laptop.session.id, reason: 'REVOKED_BY_USER' });
      expect(phoneSocket!.feed.events.find((event) => event.current)).toMatchObject({ sessionId: phone.session.id, reason: 'ADMIN' });
      expect(c.app.revocations.synchronised).toBe(true);
      for (const token of [laptop.accessToken, phone.accessToken]) {
        expect(codes(await c.gql('{ me { id } }', {}, { token }))).toEqual(['SESSION_REVOKED']);
      }
    } finally {
      await close();
    }
  });

  it('a revocation that rolls back sends nothing; one that commits is heard', async () => {
    const heard: string[] = [];
    const listener = await admin.listen(REVOCATION_CHANNEL, (payload) => heard.push(payload));
    const event = { sessionId: crypto.randomUUID(), userId: crypto.randomUUID(), reason: 'ADMIN' as const, revokedAt: new Date() };
    await expect(
      a.app.database.db.transaction(async (tx) => {
        await a.app.bus.announce(tx, [event]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await a.app.database.db.transaction((tx) => a.app.bus.announce(tx, [{ ...event, reason: 'LOGOUT' }]));
    await eventually(() => heard.length > 0);
    expect(heard).toHaveLength(1);
    expect(heard[0]).toContain('"LOGOUT"');
    await listener.unlisten();
  });

  it("takes its own notification into its revocation set when the commit's acknowledgement was lost", async () => {
    const { phone } = await twoDevices(a.gql);
    const event = { sessionId: phone.session.id, userId: phone.user.id, reason: 'ADMIN' as const, revokedAt: new Date() };
    // Announced and committed, but never delivered locally: what a lost COMMIT acknowledgement leaves.
    await a.app.database.db.transaction((tx) => a.app.bus.announce(tx, [event]));
    await eventually(() => a.app.revocations.has(phone.session.id));
    expect(a.app.revocations.has(phone.session.id)).toBe(true);
  });
});
