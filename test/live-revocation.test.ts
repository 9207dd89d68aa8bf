import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sessions, users } from '../src/db/schema.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { backend } from './helpers/database.js';
import { holdLock } from './helpers/locks.js';
import { login, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import WebSocket from 'ws';
import { MAX_OPERATIONS_PER_SOCKET } from '../src/transport/ws.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, SESSION_REVOKED_SUBSCRIPTION, wsClient } from './helpers/ws.js';

let t: TestApp;
let url: string;
beforeAll(async () => {
  t = await createTestApp();
  url = (await t.app.start()).url;
});
afterAll(() => t.close());

/** Connects the clients and waits until the server has registered their subscriptions. */
async function ready(...clients: ReturnType<typeof wsClient>[]) {
  const before = t.app.revocationFeed.subscriberCount;
  await Promise.all(clients.map((client) => connected(client)));
  await eventually(() => t.app.revocationFeed.subscriberCount >= before + clients.length);
}

async function twoDevices() {
  const email = uniqueEmail();
  const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
  const phone = await login(t.gql, { email, deviceName: 'phone' });
  return { email, laptop, phone };
}

describe('sessionRevoked over graphql-ws', () => {
  it("tells a subscriber when another of its user's sessions ends, and keeps the socket open", async () => {
    const { laptop, phone } = await twoDevices();
    const client = wsClient(url, { token: laptop.accessToken });
    const feed = collectRevocations(client);
    await ready(client);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    await feed.next(1);
    expect(feed.events).toEqual([
      { sessionId: phone.session.id, reason: 'REVOKED_BY_USER', revokedAt: expect.any(String), current: false },
    ]);
    expect(client.closes).toEqual([]);
    await client.dispose();
  });

  it('sends the event then closes 4403 "Session revoked" when the subscriber\'s own session ends; other sockets keep receiving', async () => {
    const { laptop, phone } = await twoDevices();
    const own = wsClient(url, { token: phone.accessToken });
    const ownFeed = collectRevocations(own);
    const other = wsClient(url, { token: laptop.accessToken });
    const otherFeed = collectRevocations(other);
    await ready(own, other);

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
      const client = wsClient(url, { token });
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
    const client = wsClient(url, { token: watcher.accessToken });
    const feed = collectRevocations(client);
    await ready(client);

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
    const client = wsClient(url, { token: fresh.accessToken });
    const feed = collectRevocations(client);
    await ready(client);
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
        const client = wsClient(url, { token: user.main.accessToken });
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
    const client = wsClient(url, { token: accessToken });
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

describe('token expiry on a live socket', () => {
  it('closes 4403 "Token expired" at expiry, and a client that refreshes in connectionParams reconnects and keeps receiving', async () => {
    const short = await createTestApp({ env: { ACCESS_TOKEN_TTL: '1' } });
    // Successors come from an instance with the usual lifetime on the same database and key, so that
    // only the first token expires during the test, however slow the machine.
    const usual = await createTestApp({ clock: short.clock, database: short.database });
    try {
      const shortUrl = (await short.app.start()).url;
      const email = uniqueEmail();
      let tokens = await signUp(short.gql, { email });
      const other = await login(short.gql, { email });
      let connections = 0;
      const client = wsClient(shortUrl, {
        retryAttempts: 5,
        retryWait: async () => {},
        shouldRetry: () => true,
        connectionParams: async () => {
          connections += 1;
          if (connections > 1) tokens = await refresh(usual.gql, tokens.refreshToken);
          return { authorization: `Bearer ${tokens.accessToken}` };
        },
      });
      const feed = collectRevocations(client);
      await connected(client);
      const closed = await client.closed;
      expect(closed).toEqual({ code: 4403, reason: 'Token expired' });
      // Subscribed again on the new socket (not only connected), or the revocation below could come first.
      await eventually(() => connections >= 2 && short.app.socketCount === 1 && short.app.revocationFeed.subscriberCount === 1);
      await short.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: other.session.id }, { token: tokens.accessToken });
      await feed.next(1);
      expect(feed.events[0]).toMatchObject({ sessionId: other.session.id, reason: 'REVOKED_BY_USER' });
      await client.dispose();
    } finally {
      await usual.close();
      await short.close();
    }
  });
});

describe('token expiry on a live socket, its subscriptions', () => {
  it('are not completed before the socket closes 4403, so that a client subscribes again once it reconnects', async () => {
    const short = await createTestApp({ env: { ACCESS_TOKEN_TTL: '1' } });
    try {
      const shortUrl = (await short.app.start()).url;
      const tokens = await signUp(short.gql, { email: uniqueEmail() });
      const client = wsClient(shortUrl, { token: tokens.accessToken });
      // Several, so that any ordering of the expiries would show: each must end by the close, not by a complete.
      const outcomes = Array.from(
        { length: 4 },
        () =>
          new Promise<string>((resolve) => {
            client.subscribe(
              { query: SESSION_REVOKED_SUBSCRIPTION },
              { next: () => {}, error: () => resolve('closed'), complete: () => resolve('completed') },
            );
          }),
      );
      await connected(client);
      expect(await client.closed).toEqual({ code: 4403, reason: 'Token expired' });
      expect(await Promise.all(outcomes)).toEqual(['closed', 'closed', 'closed', 'closed']);
      await eventually(() => short.app.socketCount === 0 && short.app.revocationFeed.subscriberCount === 0);
      await client.dispose();
    } finally {
      await short.close();
    }
  });
});

describe('sessionRevoked over SSE', () => {
  it('answers UNAUTHENTICATED and no stream without a token', async () => {
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId } }' }),
    });
    const text = await response.text();
    expect(text).toContain('"code":"UNAUTHENTICATED"');
    expect(text).not.toContain('"sessionRevoked":{');
  });

  it('streams the event to a subscriber authenticated by the Authorization header', async () => {
    const { laptop, phone } = await twoDevices();
    const controller = new AbortController();
    const before = t.app.revocationFeed.subscriberCount;
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${laptop.accessToken}` },
      body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId reason current } }' }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    // The stream starts its subscription when it is read.
    const reader = response.body!.getReader();
    const received = (async () => {
      let text = '';
      while (!text.includes('sessionRevoked')) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    })();
    await eventually(() => t.app.revocationFeed.subscriberCount > before);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    expect(await received).toContain(`{"sessionId":"${phone.session.id}","reason":"REVOKED_BY_USER","current":false}`);
    controller.abort();
  });
});

/** Opens an SSE sessionRevoked stream and reads it to its end. */
async function openSse(app: TestApp, token: string) {
  const response = await app.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId reason current } }' }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const whole = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  })();
  return { whole, cancel: () => reader.cancel() };
}

describe('streams do not outlive their session', () => {
  it("ends an SSE stream right after announcing the subscriber's own session ended", async () => {
    const { laptop, phone } = await twoDevices();
    const before = t.app.revocationFeed.subscriberCount;
    const stream = await openSse(t, phone.accessToken);
    await eventually(() => t.app.revocationFeed.subscriberCount > before);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    const text = await stream.whole;
    expect(text).toContain(`{"sessionId":"${phone.session.id}","reason":"REVOKED_BY_USER","current":true}`);
    expect(text).toContain('event: complete');
    expect(t.app.revocationFeed.subscriberCount).toBe(before);
  });

  it('ends an SSE stream when its access token expires', async () => {
    const short = await createTestApp({ env: { ACCESS_TOKEN_TTL: '1' } });
    try {
      const tokens = await signUp(short.gql, { email: uniqueEmail() });
      const stream = await openSse(short, tokens.accessToken);
      const text = await stream.whole;
      expect(text).toContain('event: complete');
      expect(text).not.toContain('sessionRevoked');
      expect(short.app.revocationFeed.subscriberCount).toBe(0);
    } finally {
      await short.close();
    }
  });
});

describe('sockets that hang up early', () => {
  it('keeps no state for clients that hang up while their connection_init is being verified', async () => {
    const { laptop } = await twoDevices();
    const socketsBefore = t.app.socketCount;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${laptop.accessToken}` } }));
        // Hang up at once, before the server has answered connection_ack.
        socket.terminate();
        await new Promise((resolve) => socket.once('close', resolve));
      }),
    );
    // Whatever was registered before the hang-up was noticed is released; nothing is registered after.
    await eventually(() => t.app.socketCount === socketsBefore);
  });

  it('closes 4408 a socket that sends no connection_init within 3 s, and keeps no state for it', async () => {
    const socketsBefore = t.app.socketCount;
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    expect(await closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(t.app.socketCount).toBe(socketsBefore);
  }, 10_000);
});

describe('several sockets of one session', () => {
  it('closes every socket of a session that ends, each after its event', async () => {
    const { phone } = await twoDevices();
    const clients = [1, 2, 3].map(() => wsClient(url, { token: phone.accessToken }));
    const feeds = clients.map((client) => collectRevocations(client));
    await ready(...clients);
    const socketsBefore = t.app.socketCount;
    await t.gql('mutation { logout }', {}, { token: phone.accessToken });
    for (const [i, client] of clients.entries()) {
      expect(await client.closed).toEqual({ code: 4403, reason: 'Session revoked' });
      expect(feeds[i]!.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, current: true })]);
    }
    await eventually(() => t.app.socketCount === socketsBefore - 3);
  });
});

describe('operations over graphql-ws know their client', () => {
  it("record the socket's address and user agent, as read at the upgrade, like an HTTP request's", async () => {
    const { laptop, phone } = await twoDevices();
    class SocketApp extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'user-agent': 'socket-app/3.0' } });
      }
    }
    const client = wsClient(url, { token: laptop.accessToken, webSocketImpl: SocketApp });
    await connected(client);
    const answered = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        { query: 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }', variables: { id: phone.session.id } },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    expect(answered).toEqual({ data: { revokeDevice: true } });
    const events = await t.gql('{ myAuthEvents { type sessionId ip userAgent } }', {}, { token: laptop.accessToken });
    expect(events.data!.myAuthEvents).toContainEqual({
      type: 'SESSION_REVOKED',
      sessionId: phone.session.id,
      ip: '127.0.0.1',
      userAgent: 'socket-app/3.0',
    });
    await client.dispose();
  });
});

describe('rows deleted in the database (an operator at work)', () => {
  it("ends a deleted session like a revoked one: its token is refused and the user's other devices hear ADMIN", async () => {
    const { laptop, phone } = await twoDevices();
    const client = wsClient(url, { token: laptop.accessToken });
    const feed = collectRevocations(client);
    await ready(client);

    await t.app.database.db.delete(sessions).where(eq(sessions.id, phone.session.id));
    await feed.next(1);
    expect(feed.events).toEqual([
      { sessionId: phone.session.id, reason: 'ADMIN', revokedAt: expect.any(String), current: false },
    ]);
    expect(codes(await t.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql('{ me { id } }', {}, { token: laptop.accessToken }))).toEqual([]);
    expect(client.closes).toEqual([]);
    await client.dispose();
  });

  it('ends every session of a deleted user: its sockets hear ADMIN for their own session and close 4403', async () => {
    const { laptop, phone } = await twoDevices();
    const client = wsClient(url, { token: laptop.accessToken });
    const feed = collectRevocations(client);
    await ready(client);

    await t.app.database.db.delete(users).where(eq(users.id, laptop.user.id));
    expect(await client.closed).toEqual({ code: 4403, reason: 'Session revoked' });
    expect(feed.events).toContainEqual(expect.objectContaining({ sessionId: laptop.session.id, reason: 'ADMIN', current: true }));
    for (const device of [laptop, phone]) {
      expect(codes(await t.gql('{ me { id } }', {}, { token: device.accessToken }))).toEqual(['SESSION_REVOKED']);
    }
  });

  it('says nothing of deleted sessions that had already ended', async () => {
    const { laptop, phone } = await twoDevices();
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    const client = wsClient(url, { token: laptop.accessToken });
    const feed = collectRevocations(client);
    await ready(client);

    const third = await login(t.gql, { email: laptop.user.email });
    await t.app.database.db.delete(sessions).where(eq(sessions.id, phone.session.id));
    // Announcements of the database arrive in commit order: had the first said anything, it would come first.
    await t.app.database.db.delete(sessions).where(eq(sessions.id, third.session.id));
    await feed.next(1);
    expect(feed.events.map((event) => event.sessionId)).toEqual([third.session.id]);
    await client.dispose();
  });
});

describe('operations per socket', () => {
  /** Subscribes; `settled` resolves with the error codes the server ended it with ([] when it completed). */
  function subscribeOnce(client: ReturnType<typeof wsClient>, query = SESSION_REVOKED_SUBSCRIPTION) {
    let stop!: () => void;
    const settled = new Promise<(string | undefined)[]>((resolve) => {
      stop = client.subscribe(
        { query },
        {
          next: () => {},
          error: (error) =>
            resolve(
              Array.isArray(error)
                ? error.map((e: { extensions?: { code?: string } }) => e.extensions?.code)
                : [String(error)],
            ),
          complete: () => resolve([]),
        },
      );
    });
    return { settled, stop };
  }

  it(`refuses an operation beyond ${MAX_OPERATIONS_PER_SOCKET} running on one socket with RATE_LIMITED, keeps the socket, and frees a slot when one completes`, async () => {
    const { laptop, phone } = await twoDevices();
    const client = wsClient(url, { token: laptop.accessToken });
    await connected(client);
    const before = t.app.revocationFeed.subscriberCount;
    const running = Array.from({ length: MAX_OPERATIONS_PER_SOCKET }, () => subscribeOnce(client));
    await eventually(() => t.app.revocationFeed.subscriberCount === before + MAX_OPERATIONS_PER_SOCKET);

    expect(await subscribeOnce(client).settled).toEqual(['RATE_LIMITED']);
    // A query is an operation too: it is refused the same way, not executed.
    expect(await subscribeOnce(client, '{ mySessions { id } }').settled).toEqual(['RATE_LIMITED']);
    expect(client.closes).toEqual([]);
    expect(t.app.revocationFeed.subscriberCount).toBe(before + MAX_OPERATIONS_PER_SOCKET);

    // The client completes one: its slot is free again, for a subscription that then works.
    running[0]!.stop();
    await eventually(() => t.app.revocationFeed.subscriberCount === before + MAX_OPERATIONS_PER_SOCKET - 1);
    const feed = collectRevocations(client);
    await eventually(() => t.app.revocationFeed.subscriberCount === before + MAX_OPERATIONS_PER_SOCKET);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    await feed.next(1);
    expect(feed.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, current: false })]);
    expect(feed.error).toBeUndefined();
    await client.dispose();
  });

  it.runIf(backend === 'postgres')(
    'counts a query its client stopped until it has finished executing: stopping does not make room for more (PostgreSQL only)',
    async () => {
      const { laptop } = await twoDevices();
      const client = wsClient(url, { token: laptop.accessToken });
      await connected(client);
      // Every mySessions waits on this lock, so the queries stay executing while it is held (up to the
      // statement timeout, 3 s, which the steps below stay well within).
      const lock = await holdLock(t.database.url!, (tx) => tx`lock table sessions in access exclusive mode`);
      try {
        const before = t.app.webSocketExecutingCount;
        const stopped = Array.from({ length: MAX_OPERATIONS_PER_SOCKET }, () => subscribeOnce(client, '{ mySessions { id } }'));
        await eventually(() => t.app.webSocketExecutingCount === before + MAX_OPERATIONS_PER_SOCKET);
        // The client stops them all (graphql-ws frees their slots at once); they still execute.
        stopped.forEach((operation) => operation.stop());
        const more = subscribeOnce(client, '{ mySessions { id } }');
        let settled: (string | undefined)[] | undefined;
        void more.settled.then((codes) => (settled = codes));
        await eventually(() => settled !== undefined || t.app.webSocketExecutingCount > before + MAX_OPERATIONS_PER_SOCKET);
        expect(settled).toEqual(['RATE_LIMITED']);
      } finally {
        await lock.release();
      }
      // Once they have finished, there is room again.
      await eventually(() => t.app.webSocketExecutingCount === 0);
      const answered = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ mySessions { id } }' }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(answered).toMatchObject({ data: { mySessions: expect.any(Array) } });
      expect(client.closes).toEqual([]);
      await client.dispose();
    },
    60_000,
  );

  it('frees the slot of every operation that finished: many more queries than the limit, one after another, all answer', async () => {
    const { laptop } = await twoDevices();
    const client = wsClient(url, { token: laptop.accessToken });
    await connected(client);
    const held = Array.from({ length: MAX_OPERATIONS_PER_SOCKET - 1 }, () => subscribeOnce(client));
    for (let i = 0; i < MAX_OPERATIONS_PER_SOCKET * 3; i += 1) {
      // A refused operation frees its reservation as well: run a refused one in between.
      if (i === MAX_OPERATIONS_PER_SOCKET) {
        const extra = subscribeOnce(client);
        const refused = subscribeOnce(client, '{ mySessions { id } }');
        expect(await refused.settled).toEqual(['RATE_LIMITED']);
        extra.stop();
        continue;
      }
      const answered = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ mySessions { id } }' }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(answered).toMatchObject({ data: { mySessions: expect.any(Array) } });
    }
    held.forEach((h) => h.stop());
    expect(client.closes).toEqual([]);
    await client.dispose();
  });
});
