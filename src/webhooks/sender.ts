import { randomInt } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import {
  claimDueDeliveries,
  countPendingDeliveries,
  markAttemptFailed,
  markDelivered,
  pruneDeliveries,
  type ClaimedDelivery,
} from '../db/webhook-outbox.js';
import type { Logger } from '../logger.js';
import { secretContext } from './endpoints.js';
import { postJson, type PostResult } from './post.js';
import type { Resolve } from './url-policy.js';

const BATCH = 20;
/** Longer than any attempt (its timeout): a delivery is leased to one sender until it has surely given up. */
const LEASE_MS = 60_000;
const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 2 * 3_600_000;
/** Settled deliveries stay visible in webhookDeliveries this long. */
const KEEP_MS = 7 * 24 * 3_600_000;
const PRUNE_EVERY_MS = 10 * 60_000;

export interface WebhookSenderOptions {
  readonly db: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secretBox: SecretBox | undefined;
  readonly allowPrivate: boolean;
  readonly resolve: Resolve;
  /** How long an attempt waits for a response (status line and headers). */
  readonly timeoutMs: number;
}

/**
 * Delivers the webhook outbox: each pass claims due deliveries under a lease (one instance sends
 * each), signs them (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) and
 * POSTs them. A failure is retried with exponential backoff and jitter until the delivery's
 * give-up time (a day), when it is marked failed. At least once: a receiver may get an event
 * twice (a response lost, a lease run out) and deduplicates by webhook-id.
 */
export class WebhookSender {
  #pass: Promise<number> | null = null;
  #lastPrune = 0;

  constructor(private readonly deps: WebhookSenderOptions) {}

  /** One pass (or the one running); resolves with the deliveries that succeeded. */
  sendDue(): Promise<number> {
    this.#pass ??= this.#run().finally(() => {
      this.#pass = null;
    });
    return this.#pass;
  }

  /** Deliveries neither delivered nor given up. */
  backlog(): Promise<number> {
    return countPendingDeliveries(this.deps.db);
  }

  /** Waits for the pass in flight, if any (at shutdown, before the database closes). */
  async settled(): Promise<void> {
    await this.#pass?.catch(() => {});
  }

  async #run(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const now = this.deps.clock();
      const claimed = await claimDueDeliveries(this.deps.db, {
        now,
        leaseUntil: new Date(now.getTime() + LEASE_MS),
        limit: BATCH,
      });
      const results = await Promise.all(claimed.map((delivery) => this.#deliver(delivery)));
      delivered += results.filter(Boolean).length;
      if (claimed.length < BATCH) break;
    }
    const now = this.deps.clock().getTime();
    if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      await pruneDeliveries(this.deps.db, new Date(now - KEEP_MS));
    }
    return delivered;
  }

  async #deliver(delivery: ClaimedDelivery): Promise<boolean> {
    const result = await this.#attempt(delivery);
    const now = this.deps.clock();
    if (result.error === null && result.status !== null) {
      await markDelivered(this.deps.db, delivery.id, { now, status: result.status });
      return true;
    }
    const retryAt = this.#retryAt(delivery, now);
    // The endpoint and event, never the secret or the payload.
    this.deps.logger.warn(retryAt ? 'webhook delivery failed' : 'webhook delivery given up', {
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      eventId: delivery.eventId,
      attempt: delivery.attempts,
      failure: result.error,
      ...(retryAt && { retryInMs: retryAt.getTime() - now.getTime() }),
    });
    await markAttemptFailed(this.deps.db, delivery.id, { now, retryAt, status: result.status, error: result.error ?? 'failed' });
    return false;
  }

  async #attempt(delivery: ClaimedDelivery): Promise<PostResult> {
    let secret: string;
    try {
      secret = this.#secretOf(delivery);
    } catch {
      return { status: null, error: 'the signing secret does not open under KEY_ENCRYPTION_KEY' };
    }
    const body = JSON.stringify(delivery.payload);
    const sentAt = this.deps.clock();
    const signature = new Webhook(secret).sign(delivery.eventId, sentAt, body);
    return postJson(
      new URL(delivery.url),
      body,
      {
        'webhook-id': delivery.eventId,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': signature,
        'user-agent': 'tidepass-webhooks',
      },
      { timeoutMs: this.deps.timeoutMs, allowPrivate: this.deps.allowPrivate, resolve: this.deps.resolve },
    );
  }

  #secretOf(delivery: ClaimedDelivery): string {
    if (!SecretBox.isSealed(delivery.sealedSecret)) return delivery.sealedSecret;
    if (!this.deps.secretBox) throw new Error('sealed secret without a key');
    return this.deps.secretBox.open(delivery.sealedSecret, secretContext(delivery.endpointId));
  }

  /**
   * Exponential backoff with "equal jitter" (half the delay fixed, half random), so that deliveries
   * that failed together (an endpoint down) do not all come back at once; the last attempt is at the
   * give-up time, and after it none (null).
   */
  #retryAt(delivery: ClaimedDelivery, now: Date): Date | null {
    if (now.getTime() >= delivery.giveUpAt.getTime()) return null;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** (delivery.attempts - 1), MAX_RETRY_MS);
    const jittered = delay / 2 + randomInt(Math.floor(delay / 2) + 1);
    return new Date(Math.min(now.getTime() + jittered, delivery.giveUpAt.getTime()));
  }
}
