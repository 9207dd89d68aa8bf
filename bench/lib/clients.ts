import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const SESSION_REVOKED = 'subscription { sessionRevoked { sessionId reason current } }';

export interface RevokedEvent {
  readonly sessionId: string;
  readonly reason: string;
  readonly current: boolean;
}

/** One GraphQL POST; throws on transport failure, returns the parsed body. */
export async function post(
  url: string,
  body: { query: string; variables?: Record<string, unknown> },
  token?: string,
): Promise<{ data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return (await response.json()) as never;
}

/**
 * A graphql-ws client subscribed to sessionRevoked; `onEvent` gets each event with the time it
 * arrived. Resolves once the server acknowledged the connection and the subscription was sent.
 */
export async function subscribeRevocations(
  url: string,
  token: string,
  onEvent: (event: RevokedEvent, at: number) => void,
): Promise<Client> {
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    onNonLazyError: () => {},
  });
  await new Promise<void>((resolve, reject) => {
    const offConnected = client.on('connected', () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on('closed', (event) => {
      offConnected();
      offClosed();
      reject(new Error(`closed before connected: ${(event as { code?: number }).code}`));
    });
  });
  client.subscribe<{ sessionRevoked: RevokedEvent }>(
    { query: SESSION_REVOKED },
    {
      next: (result) => {
        if (result.data) onEvent(result.data.sessionRevoked, performance.now());
      },
      error: () => {},
      complete: () => {},
    },
  );
  return client;
}
