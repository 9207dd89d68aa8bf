import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Instance } from './instances.js';
import type { Ledger } from './ledger.js';
import { bump, now } from './util.js';

const SESSION_REVOKED = 'subscription { sessionRevoked { sessionId current } }';
/** After `connected`, the time the server may take to start the subscription sent right after it. */
const SUBSCRIBE_MARGIN_MS = 300;

/** A live `sessionRevoked` subscriber of one user on one instance. */
interface Subscriber {
  readonly userId: string;
  readonly instance: string;
  readonly client: Client;
  connectedAt?: number;
  closedAt?: number;
  /** Session id -> when its event arrived. */
  readonly events: Map<string, number>;
}

export interface DeliveryFigures {
  /** Ends a subscriber was connected for, from before the end was asked until the bound after its acknowledgement. */
  readonly expected: number;
  readonly inTime: number;
  readonly late: number;
  readonly missing: number;
  readonly closesByCode: Record<string, number>;
  readonly opened: number;
  /** Of those, how many were acknowledged by the server (connection_ack). */
  readonly connected: number;
  /** The first late or missing deliveries. */
  readonly examples: { sessionId: string; subscriberOn: string; endKind: string; heardAfterAckMs: number | null }[];
}

/** WebSocket subscribers of the load's users, and what they heard. */
export class Subscribers {
  readonly #all: Subscriber[] = [];
  readonly #closesByCode: Record<string, number> = {};

  hasOpen(userId: string): boolean {
    return this.#all.some((s) => s.userId === userId && s.closedAt === undefined);
  }

  open(userId: string, accessToken: string, instance: Instance): void {
    const subscriber: Subscriber = {
      userId,
      instance: instance.name,
      events: new Map(),
      client: createClient({
        url: `${instance.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
        connectionParams: { authorization: `Bearer ${accessToken}` },
        on: {
          connected: () => (subscriber.connectedAt = now()),
          closed: (event) => {
            subscriber.closedAt ??= now();
            bump(this.#closesByCode, String((event as { code?: number }).code ?? 'unknown'));
          },
        },
      }),
    };
    subscriber.client.subscribe<{ sessionRevoked: { sessionId: string } }>(
      { query: SESSION_REVOKED },
      {
        next: (result) => {
          const id = result.data?.sessionRevoked.sessionId;
          if (id && !subscriber.events.has(id)) subscriber.events.set(id, now());
        },
        error: () => {},
        complete: () => {},
      },
    );
    this.#all.push(subscriber);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#all.map((s) => s.client.dispose()));
  }

  /**
   * Every acknowledged end of a user's session against that user's subscribers that were listening
   * throughout: connected before the end was asked for, and still connected `boundMs` after it was
   * acknowledged. Each should have heard it within the bound.
   */
  deliveries(ledger: Ledger, boundMs: number): DeliveryFigures {
    let expected = 0;
    let inTime = 0;
    let late = 0;
    const examples: DeliveryFigures['examples'] = [];
    for (const session of ledger.ackedEnds()) {
      for (const subscriber of this.#all) {
        if (subscriber.userId !== session.userId || subscriber.connectedAt === undefined) continue;
        if (subscriber.connectedAt + SUBSCRIBE_MARGIN_MS > session.endSentAt!) continue;
        if (subscriber.closedAt !== undefined && subscriber.closedAt < session.endAckedAt! + boundMs) continue;
        expected += 1;
        const arrived = subscriber.events.get(session.id);
        if (arrived !== undefined && arrived <= session.endAckedAt! + boundMs) {
          inTime += 1;
          continue;
        }
        if (arrived !== undefined) late += 1;
        if (examples.length < 10) {
          const heardAfterAckMs = arrived === undefined ? null : Math.round(arrived - session.endAckedAt!);
          examples.push({
            sessionId: session.id,
            subscriberOn: subscriber.instance,
            endKind: session.endKind!,
            heardAfterAckMs,
          });
        }
      }
    }
    const opened = this.#all.length;
    const connected = this.#all.filter((s) => s.connectedAt !== undefined).length;
    return {
      expected,
      inTime,
      late,
      missing: expected - inTime - late,
      closesByCode: { ...this.#closesByCode },
      opened,
      connected,
      examples,
    };
  }
}
