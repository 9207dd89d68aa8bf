import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { at } from './columns.js';

/** Webhook endpoints and their outbox (src/webhooks/). */

/**
 * Where an operator's backend hears what happened (src/webhooks/): a URL, the event types it wants,
 * and the signing secret (`whsec_…`), sealed under KEY_ENCRYPTION_KEY since signing needs it back.
 */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: uuid('id').primaryKey(),
  url: text('url').notNull(),
  events: text('events').array().notNull(),
  secret: text('secret').notNull(),
  createdAt: at('created_at').notNull(),
  /** The admin who created it; kept (as null) when that user is deleted. */
  createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
});

/**
 * The webhook outbox: one row per event and subscribed endpoint, written in the transaction of the
 * change, delivered by src/webhooks/sender.ts under a lease like the mail outbox.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    /** The `webhook-id`: one per event, the same for every attempt, so that receivers can deduplicate. */
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    /** The body as sent: `{ type, timestamp, data }`. */
    payload: jsonb('payload').notNull(),
    createdAt: at('created_at').notNull(),
    /** When a sender may next take it: after a backoff, or once the lease of the sender holding it has run out. */
    nextAttemptAt: at('next_attempt_at').notNull(),
    /** Retried until then (a day after it was written, or after a redelivery), then marked failed. */
    giveUpAt: at('give_up_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    deliveredAt: at('delivered_at'),
    failedAt: at('failed_at'),
    /** The last attempt's HTTP status (null: no response) and failure. */
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
  },
  (t) => [
    index('webhook_deliveries_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.deliveredAt} is null and ${t.failedAt} is null`),
    index('webhook_deliveries_endpoint_created_at_idx').on(t.endpointId, t.createdAt),
    index('webhook_deliveries_created_at_idx').on(t.createdAt),
  ],
);
