import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';
import type { StartedTestApp, TestApp } from './app.js';
import { eventually } from './eventually.js';

export const SESSION_REVOKED_SUBSCRIPTION = 'subscription { sessionRevoked { sessionId reason revokedAt current } }';

export interface RevokedEvent {
  sessionId: string;
  reason: string;
  revokedAt: string;
  current: boolean;
}

export interface Closed {
  code: number;
  reason: string;
}

/** A graphql-ws client (the library's own) over the `ws` package, recording how its socket closed. */
export function wsClient(
  baseUrl: string,
  options: Partial<ClientOptions> & { token?: string } = {},
): Client & { closes: Closed[]; closed: Promise<Closed>; closedAt?: number } {
  const closes: Closed[] = [];
  const timing: { closedAt?: number } = {};
  let resolveClosed!: (closed: Closed) => void;
  const closed = new Promise<Closed>((resolve) => (resolveClosed = resolve));
  const { token, ...rest } = options;
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    ...rest,
    on: {
      ...rest.on,
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        timing.closedAt ??= performance.now();
        closes.push({ code, reason: String(reason) });
        resolveClosed({ code, reason: String(reason) });
      },
    },
  });
  // A getter, defined (Object.assign would copy its value once).
  return Object.defineProperty(Object.assign(client, { closes, closed }), 'closedAt', {
    /** performance.now() when the socket first closed. */
    get: () => timing.closedAt,
  });
}

/** Subscribes and collects events; `next(n)` waits until n events have arrived. */
export function collectRevocations(client: Client) {
  const events: RevokedEvent[] = [];
  /** performance.now() at each event's arrival. */
  const arrivedAt: number[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let failed: unknown;
  const dispose = client.subscribe<{ sessionRevoked: RevokedEvent }>(
    { query: SESSION_REVOKED_SUBSCRIPTION },
    {
      next: (result) => {
        if (result.data) {
          events.push(result.data.sessionRevoked);
          arrivedAt.push(performance.now());
        }
        for (const waiter of waiters.filter((w) => events.length >= w.count)) waiter.resolve();
      },
      error: (error) => {
        failed = error;
      },
      complete: () => {},
    },
  );
  return {
    events,
    arrivedAt,
    get error() {
      return failed;
    },
    dispose,
    next: (count: number) =>
      new Promise<void>((resolve) => {
        if (events.length >= count) return resolve();
        waiters.push({ count, resolve });
      }),
  };
}

/** Resolves once the client has acknowledged its connection. */
export function connected(client: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    const offConnected = client.on('connected', () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on('closed', (event) => {
      offConnected();
      offClosed();
      reject(Object.assign(new Error('closed before connected'), { event }));
    });
  });
}

/** Connects the clients and waits until the app has registered their subscriptions. */
export async function subscribed(app: TestApp, ...clients: Client[]): Promise<void> {
  const before = app.app.revocationFeed.subscriberCount;
  await Promise.all(clients.map((client) => connected(client)));
  await eventually(() => app.app.revocationFeed.subscriberCount >= before + clients.length);
}

/** A client on this app subscribed to sessionRevoked, returned once the app has registered it. */
export async function watchRevocations(app: StartedTestApp, token: string) {
  const client = wsClient(app.url, { token });
  const feed = collectRevocations(client);
  await subscribed(app, client);
  return { client, feed };
}
