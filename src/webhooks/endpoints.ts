import { randomBytes } from 'node:crypto';
import { isUuid } from '../auth/crypto.js';
import type { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import {
  deleteWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  type WebhookEndpointRow,
} from '../db/webhook-endpoints.js';
import { listDeliveries, requeueDelivery, type DeliveryRow } from '../db/webhook-outbox.js';
import { AuthError, badInput } from '../errors.js';
import { isWebhookEventType, webhookEventTypes, type WebhookEventType } from './events.js';
import { validateEndpointUrl, type Resolve } from './url-policy.js';

export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly createdAt: Date;
  readonly createdBy: string | null;
}

export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface WebhookDelivery {
  readonly id: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly type: string;
  readonly payload: unknown;
  readonly status: WebhookDeliveryStatus;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly nextAttemptAt: Date | null;
  readonly deliveredAt: Date | null;
  readonly failedAt: Date | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
}

/** Bytes of a signing secret; the Standard Webhooks spec asks for 24 to 64. */
const SECRET_BYTES = 32;
const MAX_DELIVERIES_PAGE = 100;

/** Where a secret is sealed: bound to its endpoint, so a sealed secret copied to another row does not open. */
export function secretContext(endpointId: string): string {
  return `webhook-endpoint:${endpointId}`;
}

/**
 * The endpoints admins manage and the deliveries they can inspect and replay. Authorization is the
 * API's (admin fields); this service trusts its caller.
 */
export class WebhookEndpoints {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      /** Seals the signing secrets; without KEY_ENCRYPTION_KEY (development) they are stored in the clear. */
      secretBox: SecretBox | undefined;
      allowPrivate: boolean;
      resolve: Resolve;
    },
  ) {}

  /** Creates an endpoint; the signing secret is returned here and never again. */
  async create(
    createdBy: string,
    input: { url: string; events: readonly string[] },
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const events = checkEvents(input.events);
    const url = await validateEndpointUrl(input.url, this.deps.allowPrivate, this.deps.resolve);
    const id = crypto.randomUUID();
    const secret = `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
    const row: WebhookEndpointRow = {
      id,
      url: url.href,
      events: [...events],
      secret: this.deps.secretBox ? this.deps.secretBox.seal(secret, secretContext(id)) : secret,
      createdAt: this.deps.clock(),
      createdBy,
    };
    await insertWebhookEndpoint(this.deps.db, row);
    return { endpoint: endpointOf(row), secret };
  }

  async list(): Promise<WebhookEndpoint[]> {
    return (await listWebhookEndpoints(this.deps.db)).map(endpointOf);
  }

  /** Deletes the endpoint with its deliveries (pending ones are not sent); NOT_FOUND when there is none. */
  async delete(id: string): Promise<true> {
    if (!isUuid(id) || !(await deleteWebhookEndpoint(this.deps.db, id))) {
      throw new AuthError('NOT_FOUND', 'No such webhook endpoint.');
    }
    return true;
  }

  /** The newest deliveries to an endpoint (none for an unknown one). */
  async deliveries(endpointId: string, first: number): Promise<WebhookDelivery[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_DELIVERIES_PAGE) {
      throw badInput('first', `first must be between 1 and ${MAX_DELIVERIES_PAGE}.`);
    }
    if (!isUuid(endpointId)) return [];
    return (await listDeliveries(this.deps.db, endpointId, first)).map(deliveryOf);
  }

  /** Queues a delivery again, with its event id, for another day of retries; NOT_FOUND if there is none. */
  async redeliver(deliveryId: string): Promise<WebhookDelivery> {
    const row = isUuid(deliveryId) ? await requeueDelivery(this.deps.db, deliveryId, this.deps.clock()) : null;
    if (!row) throw new AuthError('NOT_FOUND', 'No such webhook delivery.');
    return deliveryOf(row);
  }
}

/** Subscribed types: at least one, each a known event type; BAD_USER_INPUT (field events) otherwise. */
function checkEvents(events: readonly string[]): readonly WebhookEventType[] {
  if (events.length === 0) throw badInput('events', 'Subscribe to at least one event type.');
  const unknown = events.find((type) => !isWebhookEventType(type));
  if (unknown !== undefined) {
    throw badInput('events', `Unknown event type "${unknown.slice(0, 64)}"; known: ${webhookEventTypes.join(', ')}.`);
  }
  return [...new Set(events as readonly WebhookEventType[])];
}

function endpointOf(row: WebhookEndpointRow): WebhookEndpoint {
  return { id: row.id, url: row.url, events: row.events, createdAt: row.createdAt, createdBy: row.createdBy };
}

function deliveryOf(row: DeliveryRow): WebhookDelivery {
  const status: WebhookDeliveryStatus = row.deliveredAt ? 'DELIVERED' : row.failedAt ? 'FAILED' : 'PENDING';
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    type: row.type,
    payload: row.payload,
    status,
    attempts: row.attempts,
    createdAt: row.createdAt,
    nextAttemptAt: status === 'PENDING' ? row.nextAttemptAt : null,
    deliveredAt: row.deliveredAt,
    failedAt: row.failedAt,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
  };
}
