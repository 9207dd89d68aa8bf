import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the receiver answers the next requests: 204, 500, or never (the sender must time out). */
export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  /** Every request received, answered or not. */
  readonly received: ReceivedWebhook[];
  mode: ReceiverMode;
  /** The headers as Webhook.verify takes them. */
  headersOf(request: ReceivedWebhook): Record<string, string>;
}

/** An HTTP server in the test that records the webhooks POSTed to it (on 127.0.0.1: WEBHOOK_ALLOW_PRIVATE=true). */
export function useWebhookReceiver(): () => WebhookReceiver {
  let server: Server | undefined;
  let receiver: WebhookReceiver | undefined;
  beforeAll(async () => {
    const received: ReceivedWebhook[] = [];
    const state = { mode: 'ok' as ReceiverMode };
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (state.mode === 'hang') return;
        response.writeHead(state.mode === 'ok' ? 204 : 500).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = {
      url: `http://127.0.0.1:${port}/hooks`,
      received,
      get mode() {
        return state.mode;
      },
      set mode(mode) {
        state.mode = mode;
      },
      headersOf: (request) => ({
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }),
    };
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });
  return () => {
    if (!receiver) throw new Error('the receiver starts in beforeAll');
    return receiver;
  };
}
