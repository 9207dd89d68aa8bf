import { and, count, desc, eq, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import type { Database, Executor } from './client.js';
import { webhookDeliveries, webhookEndpoints } from './schema.js';

/** An event as written to the outbox: its body (`{ type, timestamp, data }`) is built by the caller. */
export interface OutboxEvent {
  readonly eventId: string;
  readonly type: string;
  readonly payload: unknown;
  readonly at: Date;
}

/** A delivery claimed by a sender, with what it needs to sign and post it. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly eventId: string;
  readonly payload: unknown;
  readonly attempts: number;
  readonly giveUpAt: Date;
  readonly endpointId: string;
  readonly url: string;
  readonly sealedSecret: string;
}

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** How long a delivery is retried (from its writing, or its redelivery) before it is marked failed. */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 3_600_000;

/**
 * Writes one delivery per event and endpoint subscribed to its type; pass the transaction of the
 * change. One statement whatever the number of events (an expiry sweep ends hundreds of sessions).
 */
export async function enqueueWebhookEvents(tx: Executor, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((event) => ({
    event_id: event.eventId,
    type: event.type,
    payload: event.payload,
    at: event.at.toISOString(),
  }));
  await tx.execute(sql`
    insert into ${webhookDeliveries} (id, endpoint_id, event_id, type, payload, created_at, next_attempt_at, give_up_at)
    select gen_random_uuid(), e.id, ev.event_id, ev.type, ev.payload, ev.at, ev.at, ev.at + ${`${WEBHOOK_RETRY_WINDOW_MS} milliseconds`}::interval
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as ev(event_id text, type text, payload jsonb, at timestamptz)
    join ${webhookEndpoints} e on ev.type = any(e.events)`);
}

/**
 * Takes up to `limit` due deliveries for this sender: each is leased until `leaseUntil`, so another
 * instance skips it (SKIP LOCKED while we claim, the lease after) and takes it only if we die first.
 */
export async function claimDueDeliveries(
  db: Database,
  input: { now: Date; leaseUntil: Date; limit: number },
): Promise<ClaimedDelivery[]> {
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(pending, lte(webhookDeliveries.nextAttemptAt, input.now)))
    .orderBy(webhookDeliveries.nextAttemptAt)
    .limit(input.limit)
    .for('update', { skipLocked: true });
  const claimed = await db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: input.leaseUntil, attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(inArray(webhookDeliveries.id, due))
    .returning();
  if (claimed.length === 0) return [];
  const endpoints = await db
    .select({ id: webhookEndpoints.id, url: webhookEndpoints.url, secret: webhookEndpoints.secret })
    .from(webhookEndpoints)
    .where(inArray(webhookEndpoints.id, [...new Set(claimed.map((row) => row.endpointId))]));
  const byId = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint]));
  // An endpoint deleted meanwhile took its deliveries with it (cascade): nothing to send for those.
  return claimed.flatMap((row) => {
    const endpoint = byId.get(row.endpointId);
    if (!endpoint) return [];
    const { id, eventId, payload, attempts, giveUpAt, endpointId } = row;
    return [{ id, eventId, payload, attempts, giveUpAt, endpointId, url: endpoint.url, sealedSecret: endpoint.secret }];
  });
}

const pending = and(isNull(webhookDeliveries.deliveredAt), isNull(webhookDeliveries.failedAt));

export async function markDelivered(db: Database, id: string, input: { now: Date; status: number }): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ deliveredAt: input.now, lastStatus: input.status, lastError: null })
    .where(eq(webhookDeliveries.id, id));
}

/** A failed attempt: retried at `retryAt`, or given up (failed) when that is null. */
export async function markAttemptFailed(
  db: Database,
  id: string,
  input: { now: Date; retryAt: Date | null; status: number | null; error: string },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      nextAttemptAt: input.retryAt ?? input.now,
      failedAt: input.retryAt ? null : input.now,
      lastStatus: input.status,
      lastError: input.error,
    })
    .where(and(eq(webhookDeliveries.id, id), pending));
}

/** The newest deliveries to one endpoint. */
export async function listDeliveries(db: Executor, endpointId: string, limit: number): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.endpointId, endpointId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit);
}

/** Queues a delivery again (same event id), retried for another window; null when there is no such delivery. */
export async function requeueDelivery(db: Executor, id: string, now: Date): Promise<DeliveryRow | null> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({
      nextAttemptAt: now,
      giveUpAt: new Date(now.getTime() + WEBHOOK_RETRY_WINDOW_MS),
      deliveredAt: null,
      failedAt: null,
    })
    .where(eq(webhookDeliveries.id, id))
    .returning();
  return row ?? null;
}

/** Deliveries neither delivered nor given up: the backlog. */
export async function countPendingDeliveries(db: Executor): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhookDeliveries).where(pending);
  return row?.n ?? 0;
}

/** Deletes deliveries written before `before` that are settled (delivered or given up). */
export async function pruneDeliveries(db: Executor, before: Date): Promise<void> {
  await db
    .delete(webhookDeliveries)
    .where(and(lt(webhookDeliveries.createdAt, before), sql`(${webhookDeliveries.deliveredAt} is not null or ${webhookDeliveries.failedAt} is not null)`));
}
