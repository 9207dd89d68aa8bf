import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_OPERATIONS_PER_SOCKET } from '../src/transport/ws.js';
import { useStartedApp } from './helpers/app.js';
import { twoDevices } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { holdLock } from './helpers/locks.js';
import { collectRevocations, connected, SESSION_REVOKED_SUBSCRIPTION, wsClient } from './helpers/ws.js';

const t = useStartedApp();

describe('sockets that hang up early', () => {
  it('keeps no state for clients that hang up while their connection_init is being verified', async () => {
    const { laptop } = await twoDevices(t.gql);
    const socketsBefore = t.app.socketCount;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${laptop.accessToken}` } }));
        // Hang up at once, before the server has answered connection_ack.
        socket.terminate();
        await new Promise((resolve) => socket.once('close', resolve));
      }),
    );
    // Whatever was registered before the hang-up was noticed is released; nothing is registered after.
    await eventually(() => t.app.socketCount === socketsBefore);
    expect(t.app.socketCount).toBe(socketsBefore);
  });

  it('closes 4408 a socket that sends no connection_init within 3 s, and keeps no state for it', async () => {
    const socketsBefore = t.app.socketCount;
    const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    expect(await closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(t.app.socketCount).toBe(socketsBefore);
  }, 10_000);
});

describe('operations over graphql-ws know their client', () => {
  it("record the socket's address and user agent, as read at the upgrade, like an HTTP request's", async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    class SocketApp extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'user-agent': 'socket-app/3.0' } });
      }
    }
    const client = wsClient(t.url, { token: laptop.accessToken, webSocketImpl: SocketApp });
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
    const { laptop, phone } = await twoDevices(t.gql);
    const client = wsClient(t.url, { token: laptop.accessToken });
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
      const { laptop } = await twoDevices(t.gql);
      const client = wsClient(t.url, { token: laptop.accessToken });
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
    const { laptop } = await twoDevices(t.gql);
    const client = wsClient(t.url, { token: laptop.accessToken });
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
