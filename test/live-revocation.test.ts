import { describe, expect, it, vi } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { login, REFRESH, refresh, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { holdLock } from './helpers/locks.js';
import { collectRevocations, connected, subscribed, watchRevocations, wsClient } from './helpers/ws.js';

const t = useStartedApp();

describe('sessionRevoked over graphql-ws', () => {
  it("tells a subscriber when another of its user's sessions ends, and keeps the socket open", async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const { client, feed } = await watchRevocations(t, laptop.accessToken);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    await feed.next(1);
    expect(feed.events).toEqual([
      { sessionId: phone.session.id, reason: 'REVOKED_BY_USER', revokedAt: expect.any(String), current: false },
    ]);
    expect(client.closes).toEqual([]);
    await client.dispose();
  });

  it('sends the event then closes 4403 "Session revoked" when the subscriber\'s own session ends; other sockets keep receiving', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const own = wsClient(t.url, { token: phone.accessToken });
    const ownFeed = collectRevocations(own);
    const other = wsClient(t.url, { token: laptop.accessToken });
    const otherFeed = collectRevocations(other);
    await subscribed(t, own, other);

    await t.gql('mutation { logout }', {}, { token: phone.accessToken });
    const closed = await own.closed;
    expect(closed).toEqual({ code: 4403, reason: 'Session revoked' });
    // The contract: the event, then the close within 100 ms of it (measured on the client, where both
    // arrive; the time from logout to event is the benchmark's business, not a timed test's).
    expect(own.closedAt! - ownFeed.arrivedAt[0]!).toBeLessThan(100);
    expect(ownFeed.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, reason: 'LOGOUT', current: true })]);
    await otherFeed.next(1);
    expect(otherFeed.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, current: false })]);
    expect(other.closes).toEqual([]);
    await other.dispose();
  });

  it('closes with 4403 at connect for no token, a bad token, and the token of an ended session', async () => {
    const ended = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: ended.accessToken });
    for (const token of [undefined, 'not-a-jwt', ended.accessToken]) {
      const client = wsClient(t.url, { token });
      const feed = collectRevocations(client);
      const closed = await client.closed;
      expect(closed.code, String(token).slice(0, 10)).toBe(4403);
      expect(feed.events).toEqual([]);
      await client.dispose();
    }
  });

  it('delivers every reason with the right session id and current flag', async () => {
    const email = uniqueEmail();
    const watcher = await signUp(t.gql, { email, deviceName: 'watcher' });
    const { client, feed } = await watchRevocations(t, watcher.accessToken);

    const a = await login(t.gql, { email });
    await t.gql('mutation { logout }', {}, { token: a.accessToken });
    const b = await login(t.gql, { email });
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: b.session.id }, { token: watcher.accessToken });
    const c = await login(t.gql, { email });
    const d = await login(t.gql, { email });
    await refresh(t.gql, d.refreshToken);
    t.clock.advance(11);
    await t.gql(REFRESH, { refreshToken: d.refreshToken });
    await feed.next(3);
    await t.gql('mutation { revokeOtherSessions }', {}, { token: watcher.accessToken });
    await feed.next(4);
    expect(feed.events.map(({ sessionId, reason, current }) => ({ sessionId, reason, current }))).toEqual([
      { sessionId: a.session.id, reason: 'LOGOUT', current: false },
      { sessionId: b.session.id, reason: 'REVOKED_BY_USER', current: false },
      { sessionId: d.session.id, reason: 'REFRESH_TOKEN_REUSE', current: false },
      { sessionId: c.session.id, reason: 'OTHER_SESSIONS_REVOKED', current: false },
    ]);
    await client.dispose();
  });

  it('announces idle-expired sessions as EXPIRED when the sweeper runs', async () => {
    const email = uniqueEmail();
    const stale = await signUp(t.gql, { email });
    t.clock.advance(604_800 - 60);
    const fresh = await login(t.gql, { email });
    const { client, feed } = await watchRevocations(t, fresh.accessToken);
    t.clock.advance(120);
    const ended = await t.app.sweepExpiredSessions();
    expect(ended.map((e) => e.sessionId)).toContain(stale.session.id);
    await feed.next(1);
    expect(feed.events.filter((e) => e.sessionId === stale.session.id)).toEqual([
      expect.objectContaining({ reason: 'EXPIRED', current: false }),
    ]);
    expect(await t.app.sweepExpiredSessions()).toEqual([]);
    await client.dispose();
  });

  it.skipIf(backend !== 'postgres')(
    'sweeps past an expired session that another transaction holds, and ends it at the next sweep (PostgreSQL only)',
    async () => {
      // Waiting for it could deadlock against a batch of rotations, which locks sessions in id order.
      const held = await signUp(t.gql);
      const free = await signUp(t.gql);
      t.clock.advance(604_800 + 60);
      const lock = await holdLock(t.database.url!, (tx) => tx`select 1 from sessions where id = ${held.session.id} for update`);
      try {
        const ended = (await t.app.sweepExpiredSessions()).map((e) => e.sessionId);
        expect(ended).toContain(free.session.id);
        expect(ended).not.toContain(held.session.id);
      } finally {
        await lock.release();
      }
      expect((await t.app.sweepExpiredSessions()).map((e) => e.sessionId)).toContain(held.session.id);
    },
  );

  it('releases every socket and subscription after 1,000 subscribers of 100 users, each receiving only its own user\'s events', async () => {
    const users = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const email = uniqueEmail('many');
        const main = await signUp(t.gql, { email });
        const other = await login(t.gql, { email });
        return { main, other };
      }),
    );
    // The earlier tests' clients are disposed, but the server may not have seen their sockets close yet:
    // counted in "before", they would leave while ours arrive, and the count would never reach +1000.
    await eventually(() => t.app.socketCount === 0 && t.app.revocationFeed.subscriberCount === 0);
    const subscribers = users.flatMap((user) =>
      Array.from({ length: 10 }, () => {
        const client = wsClient(t.url, { token: user.main.accessToken });
        return { user, client, feed: collectRevocations(client) };
      }),
    );
    const socketsBefore = t.app.socketCount;
    const subscriptionsBefore = t.app.revocationFeed.subscriberCount;
    await Promise.all(subscribers.map((s) => connected(s.client)));
    // A wait, not a timing assertion: on a loaded machine a thousand subscriptions take a while.
    await eventually(() => t.app.revocationFeed.subscriberCount >= subscriptionsBefore + 1000, 60_000);
    expect(t.app.socketCount).toBe(socketsBefore + 1000);

    await Promise.all(
      users.map((user) =>
        t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: user.other.session.id }, { token: user.main.accessToken }),
      ),
    );
    await Promise.all(subscribers.map((s) => s.feed.next(1)));
    for (const s of subscribers) {
      expect(s.feed.events).toEqual([expect.objectContaining({ sessionId: s.user.other.session.id, current: false })]);
    }
    await Promise.all(subscribers.map((s) => s.client.dispose()));
    await eventually(
      () => t.app.socketCount === socketsBefore && t.app.revocationFeed.subscriberCount === subscriptionsBefore,
      30_000,
    );
  }, 180_000);
});

describe('the shared expiry deadlines', () => {
  it('keep one slot for a subscription stopped and started again and again with one token, not one each time', async () => {
    const { accessToken } = await signUp(t.gql);
    const client = wsClient(t.url, { token: accessToken });
    await connected(client);
    // Earlier tests' subscriptions gone, so that the count below moves with ours only.
    await eventually(() => t.app.revocationFeed.subscriberCount === 0);
    // Time stands still for the deadlines (performance.now): every subscription of this token is due
    // in one slot, however slowly the machine runs the loop.
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const subscribers = t.app.revocationFeed.subscriberCount;
      const slots = t.app.deadlineSlotCount;
      for (let i = 0; i < 20; i += 1) {
        const feed = collectRevocations(client);
        await eventually(() => t.app.revocationFeed.subscriberCount === subscribers + 1);
        feed.dispose();
        await eventually(() => t.app.revocationFeed.subscriberCount === subscribers);
      }
      expect(t.app.deadlineSlotCount).toBeLessThanOrEqual(slots + 1);
    } finally {
      vi.useRealTimers();
      await client.dispose();
    }
  });
});

describe('several sockets of one session', () => {
  it('closes every socket of a session that ends, each after its event', async () => {
    const { phone } = await twoDevices(t.gql);
    const clients = [1, 2, 3].map(() => wsClient(t.url, { token: phone.accessToken }));
    const feeds = clients.map((client) => collectRevocations(client));
    await subscribed(t, ...clients);
    const socketsBefore = t.app.socketCount;
    await t.gql('mutation { logout }', {}, { token: phone.accessToken });
    for (const [i, client] of clients.entries()) {
      expect(await client.closed).toEqual({ code: 4403, reason: 'Session revoked' });
      expect(feeds[i]!.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, current: true })]);
    }
    await eventually(() => t.app.socketCount === socketsBefore - 3);
  });
});
