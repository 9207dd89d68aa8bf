import { and, eq, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import { recordAuthEvents, type AuditedClient } from './auth-events.js';
import { rowsOf, type Database, type Transaction } from './client.js';
import { isDeadlock } from './errors.js';
import { liveAt, type LiveWindow } from './live-window.js';
import { sessions, users } from './schema.js';

/** Which of a user's sessions to end; ids are uuids (the caller leaves out any other string). */
export interface SessionSelection {
  readonly userId: string;
  readonly sessionIds?: readonly string[];
  readonly exceptSessionId?: string;
  /**
   * All but this one, whether or not it is live (unlike exceptSessionId, which ends nothing once the
   * caller's own has ended): one that has ended is no longer kept from anything.
   */
  readonly keepSessionId?: string;
}

/** Who asked for the ends, for the audit log: one client for all, or each event's own. */
type AskedBy = AuditedClient | ((event: SessionRevoked) => AuditedClient | undefined);
/**
 * Announces ended sessions inside the transaction, logs them (with the client that ended them, if
 * any) and queues them for local delivery after commit.
 */
export type RecordEnded = (events: SessionRevoked[], client?: AskedBy) => Promise<SessionRevoked[]>;

interface PendingEnd {
  readonly selection: SessionSelection;
  readonly reason: RevocationReason;
  readonly client: AuditedClient | undefined;
  resolve(ended: SessionRevoked[]): void;
  reject(error: unknown): void;
}

/** Bounds one group-commit transaction (two query parameters per session). */
const MAX_ENDS_PER_TRANSACTION = 500;

/** One instance at a time sweeps: a transaction-scoped advisory lock, released at commit. */
const SWEEP_LOCK_KEY = 0x7469_6465; // "tide"
const SWEEP_BATCH = 500;

/**
 * Ending sessions: the transactions that do it (announced on the bus inside them, audited, applied
 * locally after commit), the group commit of many requests to end sessions, and the sweep of
 * expired ones. `window` tells which sessions are live at the moment it is called.
 */
export class SessionEnds {
  constructor(private readonly deps: { db: Database; bus: RevocationBus; window: () => LiveWindow }) {}

  /**
   * Ends the selected live sessions of one user and tells every instance. Returns what it ended.
   * `client`: who asked, for the audit log.
   *
   * Group commit: what is asked while a revocation transaction is in flight goes into the next one,
   * together. A burst of logouts then costs a few transactions (and NOTIFYs, which PostgreSQL
   * serialises at commit) instead of one each; a lone revocation still starts at once.
   */
  end(selection: SessionSelection, reason: RevocationReason, client?: AuditedClient): Promise<SessionRevoked[]> {
    if (selection.sessionIds?.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#pendingEnds.push({ selection, reason, client, resolve, reject });
      if (!this.#flushing) void this.#flushEnds();
    });
  }

  readonly #pendingEnds: PendingEnd[] = [];
  #flushing = false;

  async #flushEnds(): Promise<void> {
    this.#flushing = true;
    while (this.#pendingEnds.length > 0) {
      const batch = this.#pendingEnds.splice(0, MAX_ENDS_PER_TRANSACTION);
      try {
        const ended = await this.revokingTransaction(async (tx, record) => {
          const perRequest = await this.#endAll(tx, batch);
          // Announced together; each audited with the client that asked for it.
          const askedBy = new Map(
            perRequest.flatMap((events, i) => events.map((event) => [event.sessionId, batch[i]!.client] as const)),
          );
          await record(perRequest.flat(), (event) => askedBy.get(event.sessionId));
          return perRequest;
        });
        batch.forEach((pending, i) => pending.resolve(ended[i]!));
      } catch (error) {
        // One transaction: if it fails (the database is down), every request in it fails alike.
        batch.forEach((pending) => pending.reject(error));
      }
    }
    this.#flushing = false;
  }

  /** Ends what each request selected, in one transaction; by-id selections of one reason in one UPDATE. */
  async #endAll(tx: Transaction, batch: readonly PendingEnd[]): Promise<SessionRevoked[][]> {
    const window = this.deps.window();
    // Every user of the batch and their sessions are locked first, in one order (see lockUsers).
    await lockUsers(tx, batch.map((pending) => pending.selection.userId));
    const ended = batch.map((): SessionRevoked[] => []);
    const byReason = new Map<RevocationReason, number[]>();
    for (const [i, { selection, reason }] of batch.entries()) {
      if (selection.sessionIds && !selection.exceptSessionId && !selection.keepSessionId) byReason.set(reason, [...(byReason.get(reason) ?? []), i]);
      else ended[i] = await this.endIn(tx, selection, reason);
    }
    for (const [reason, indexes] of byReason) {
      // Which request asked for which session; one asked twice ends once, for one of them.
      const askedBy = new Map(indexes.flatMap((i) => batch[i]!.selection.sessionIds!.map((id) => [id, i] as const)));
      const pairs = indexes.flatMap((i) =>
        batch[i]!.selection.sessionIds!.map((id) => [batch[i]!.selection.userId, id] as const),
      );
      if (pairs.length === 0) continue;
      // Two array parameters whatever the batch size: building one parameter per id cost more CPU than the query.
      const rows = await tx
        .update(sessions)
        .set({ endedAt: window.now, endReason: reason })
        .where(
          and(
            sql`(${sessions.userId}, ${sessions.id}) in (select * from unnest(${uuidArray(pairs.map(([userId]) => userId))}::uuid[], ${uuidArray(pairs.map(([, id]) => id))}::uuid[]))`,
            ...liveAt(window),
          ),
        )
        .returning({ sessionId: sessions.id, userId: sessions.userId });
      for (const row of rows) ended[askedBy.get(row.sessionId)!]!.push({ ...row, reason, revokedAt: window.now });
    }
    return ended;
  }

  /**
   * Marks sessions past their idle or absolute end as ended (reason EXPIRED), so that subscribers
   * hear of it. At most one instance sweeps at a time; returns what this call ended.
   */
  async endExpired(): Promise<SessionRevoked[]> {
    return this.revokingTransaction(async (tx, record) => {
      const lock = rowsOf<{ locked: boolean }>(
        await tx.execute(sql`select pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) as locked`),
      );
      if (!lock[0]?.locked) return [];
      const { now, idleHorizon } = this.deps.window();
      // In id order, skipping sessions locked elsewhere (a rotation, which will find them expired, or
      // a revocation): the sweep waits for nobody, so it deadlocks with nobody; the next one takes them.
      const expired = tx
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(isNull(sessions.endedAt), or(lte(sessions.expiresAt, now), lte(sessions.lastUsedAt, idleHorizon))))
        .orderBy(sessions.id)
        .limit(SWEEP_BATCH)
        .for('update', { skipLocked: true });
      const rows = await tx
        .update(sessions)
        .set({ endedAt: now, endReason: 'EXPIRED' })
        .where(and(isNull(sessions.endedAt), inArray(sessions.id, expired)))
        .returning({ sessionId: sessions.id, userId: sessions.userId });
      return record(rows.map((row) => ({ ...row, reason: 'EXPIRED' as const, revokedAt: now })));
    });
  }

  /**
   * Runs `work` in a transaction in which sessions can be ended. The bus announces the ends inside
   * the transaction (so a rollback sends nothing) and this instance applies them right after commit.
   */
  async revokingTransaction<T>(work: (tx: Transaction, record: RecordEnded) => Promise<T>): Promise<T> {
    try {
      return await this.#revokingTransactionOnce(work);
    } catch (error) {
      // Sessions are locked in the order rotations lock them (lockUsers), which prevents the deadlock
      // we know of; should PostgreSQL still fail this transaction for one (a lock order not thought
      // of), everything was rolled back, NOTIFYs included: again, once, as the rotations do.
      if (isDeadlock(error)) return this.#revokingTransactionOnce(work);
      throw error;
    }
  }

  async #revokingTransactionOnce<T>(work: (tx: Transaction, record: RecordEnded) => Promise<T>): Promise<T> {
    const ended: SessionRevoked[] = [];
    const result = await this.deps.db.transaction(async (tx) =>
      work(tx, async (events, client) => {
        if (events.length > 0) await this.deps.bus.announce(tx, events);
        await recordAuthEvents(
          tx,
          events.map((event) => ({
            type: 'SESSION_REVOKED' as const,
            userId: event.userId,
            sessionId: event.sessionId,
            reason: event.reason,
            client: (typeof client === 'function' ? client(event) : client) ?? null,
            at: event.revokedAt,
          })),
        );
        ended.push(...events);
        return events;
      }),
    );
    if (ended.length > 0) this.deps.bus.deliverLocally(ended);
    return result;
  }

  async endIn(tx: Transaction, selection: SessionSelection, reason: RevocationReason): Promise<SessionRevoked[]> {
    if (selection.sessionIds?.length === 0) return [];
    const window = this.deps.window();
    const conditions = [eq(sessions.userId, selection.userId), ...liveAt(window)];
    if (selection.sessionIds) {
      // One array parameter, not one per id: every list length would otherwise be its own prepared statement.
      conditions.push(sql`${sessions.id} = any(${uuidArray(selection.sessionIds)}::uuid[])`);
    }
    if (selection.keepSessionId) conditions.push(ne(sessions.id, selection.keepSessionId));
    if (selection.exceptSessionId) {
      conditions.push(ne(sessions.id, selection.exceptSessionId));
      // "All but mine" only while mine is live: a caller whose session ended after its token was
      // checked (the user's row lock orders us after that end) must not end the others.
      conditions.push(
        sql`exists (select 1 from ${sessions} mine where mine.id = ${selection.exceptSessionId} and mine.user_id = ${selection.userId} and mine.ended_at is null)`,
      );
    }
    const rows = await tx
      .update(sessions)
      .set({ endedAt: window.now, endReason: reason })
      .where(and(...conditions))
      .returning({ sessionId: sessions.id, userId: sessions.userId });
    return rows.map((row) => ({ ...row, reason, revokedAt: window.now }));
  }
}

/**
 * Locks the users' rows, then their sessions not yet ended, each in id order: every transaction that
 * ends sessions starts here, so two of them cannot each wait for the other.
 *
 * The users: ending "all other sessions" updates many rows, in an order of the database's choosing,
 * and two such transactions (a revokeOtherSessions on each of two instances, or one beside a password
 * change) would deadlock without a common lock. NO KEY UPDATE, as createSession takes: those conflict
 * with each other, but not with the key-share locks that inserting a session (its foreign key) takes.
 *
 * The sessions: a batch of rotations locks several sessions, of any users, in id order (rotation.ts)
 * and never a user. Ending sessions in the order the UPDATE finds them could take one the batch
 * wants while the batch holds one it wants: a deadlock, which PostgreSQL breaks by failing one of
 * the two. Taken in the batch's order, the later of the two waits for the earlier instead.
 */
export async function lockUsers(tx: Transaction, userIds: readonly string[]): Promise<void> {
  const ids = [...new Set(userIds)].sort();
  if (ids.length === 0) return;
  await tx
    .select({ id: users.id })
    .from(users)
    .where(sql`${users.id} = any(${uuidArray(ids)}::uuid[])`)
    .orderBy(users.id)
    .for('no key update');
  await tx
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(sql`${sessions.userId} = any(${uuidArray(ids)}::uuid[])`, isNull(sessions.endedAt)))
    .orderBy(sessions.id)
    .for('update');
}

/** A PostgreSQL array literal of uuids (checked by the caller), passed as one parameter. */
function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}
