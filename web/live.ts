import { createClient, type Client } from 'graphql-ws';
import { documents } from './api.js';
import type { SessionKeeper } from './session.js';

export interface SessionRevoked {
  sessionId: string;
  reason: string;
  current: boolean;
}

/**
 * sessionRevoked over graphql-ws on the same origin. The server closes the socket with 4403 when the
 * access token expires; the client then reconnects, and connectionParams hands over a fresh token
 * (refreshing first when it is due). After every (re)connection the list is reloaded, since events
 * of the gap were not delivered.
 */
export function subscribeToRevocations(
  keeper: SessionKeeper,
  handlers: { onEvent(event: SessionRevoked): void; onConnected(): void; onClosed(): void },
): () => void {
  const url = new URL('/graphql', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  let disposed = false;
  // After a 4403 refusal other than the token's expiry (its session ended, or the token was refused),
  // the next connection starts with a refresh: a fresh token, or INVALID_REFRESH_TOKEN, which signs this tab out.
  let refused = false;
  const client: Client = createClient({
    url: url.href,
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: () => !disposed && keeper.user !== null,
    // Reconnecting after a token's expiry is routine: the first retry at once, later ones backing off.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 8_000))),
    connectionParams: async () => {
      if (refused) await keeper.refresh();
      refused = false;
      return { authorization: `Bearer ${await keeper.accessToken()}` };
    },
    on: {
      connected: () => handlers.onConnected(),
      closed: (event) => {
        // "Token expired" needs no forced refresh: accessToken() renews a token that is due.
        const close = event as CloseEvent | undefined;
        if (close?.code === 4403 && close.reason !== 'Token expired') refused = true;
        handlers.onClosed();
      },
    },
  });
  const subscribe = (): void => {
    client.subscribe<{ sessionRevoked: SessionRevoked }>(
      { query: documents.sessionRevoked },
      {
        next: ({ data }) => {
          if (data) handlers.onEvent(data.sessionRevoked);
        },
        error: () => {
          // A fatal close (e.g. connectionParams failing because the session ended): the keeper has
          // signed out by then; otherwise start over.
          if (!disposed && keeper.user) setTimeout(subscribe, 1_000);
        },
        complete: () => {
          // The server completes the stream after this session's own end or at the token's expiry.
          if (!disposed && keeper.user) setTimeout(subscribe, 0);
        },
      },
    );
  };
  subscribe();
  return () => {
    disposed = true;
    void client.dispose();
  };
}
