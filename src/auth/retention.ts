import { and, inArray, isNotNull, lt, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Clock } from '../clock.js';
import { rowsOf, type Database, type Transaction } from '../db/client.js';
import { deletedSessions, refreshTokens, sessions } from '../db/schema.js';
import { pruneAuthEvents } from '../db/auth-events.js';

/** Durations in seconds. */
export interface RetentionPolicy {
  /** Ended sessions (with their refresh tokens) and spent refresh tokens are kept this long. */
  readonly sessionRetention: number;
  /** auth_events rows are kept this long. */
  readonly authEventRetention: number;
  /**
   * Tombstones of deleted sessions are kept this long after their end: the revocation window, past
   * which no access token of theirs is unexpired and no instance's reload looks for them.
   */
  readonly deletedSessionRetention: number;
}

export interface RetentionSweep {
  readonly sessions: number;
  readonly refreshTokens: number;
  readonly authEvents: number;
  readonly deletedSessions: number;
}

/** Not the expiry sweeper's key: the two sweeps do not exclude each other. */
const RETENTION_LOCK_KEY = 0x7469_6472; // "tidr"
/** Rows per table per transaction: short transactions, short locks. */
export const RETENTION_BATCH = 1000;
/** Batches per run: a run stays short however large the backlog; the next run goes on. */
const MAX_BATCHES_PER_RUN = 20;

/**
 * Deletes what no one needs any more, in bounded batches, one instance at a time (a transaction-scoped
 * advisory lock taken by every batch; a batch that does not get it ends the run).
 *
 * Expired sessions are not looked for separately: the expiry sweeper ends them (reason EXPIRED)
 * within SESSION_SWEEP_INTERVAL, so "ended long enough ago" covers them, through an index.
 * Deleting a session deletes its refresh tokens (foreign-key cascade). A spent refresh token of a live
 * session older than the retention goes too: presented again, it is then INVALID_REFRESH_TOKEN rather
 * than REFRESH_TOKEN_REUSED.
 */
export async function sweepRetention(deps: {
  db: Database;
  clock: Clock;
  policy: RetentionPolicy;
}): Promise<RetentionSweep> {
  const total = { sessions: 0, refreshTokens: 0, authEvents: 0, deletedSessions: 0 };
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch += 1) {
    const now = deps.clock().getTime();
    const sessionHorizon = new Date(now - deps.policy.sessionRetention * 1000);
    const eventHorizon = new Date(now - deps.policy.authEventRetention * 1000);
    const tombstoneHorizon = new Date(now - deps.policy.deletedSessionRetention * 1000);
    const swept = await deps.db.transaction(async (tx) => {
      if (!(await tryLock(tx))) return null;
      return {
        sessions: await deleteEndedSessions(tx, sessionHorizon),
        refreshTokens: await deleteSpentRefreshTokens(tx, sessionHorizon),
        authEvents: await pruneAuthEvents(tx, eventHorizon, RETENTION_BATCH),
        deletedSessions: await deleteTombstones(tx, tombstoneHorizon),
      };
    });
    if (!swept) break;
    total.sessions += swept.sessions;
    total.refreshTokens += swept.refreshTokens;
    total.authEvents += swept.authEvents;
    total.deletedSessions += swept.deletedSessions;
    if (Math.max(swept.sessions, swept.refreshTokens, swept.authEvents, swept.deletedSessions) < RETENTION_BATCH) break;
  }
  return total;
}

async function tryLock(tx: Transaction): Promise<boolean> {
  const rows = rowsOf<{ locked: boolean }>(
    await tx.execute(sql`select pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) as locked`),
  );
  return rows[0]?.locked === true;
}

/** One batch of a table's rows that `old` selects, by primary key: a bounded DELETE, a short lock. */
async function deleteBatch(tx: Transaction, table: PgTable, id: PgColumn, old: SQL | undefined): Promise<number> {
  const batch = tx.select({ id }).from(table).where(old).limit(RETENTION_BATCH);
  const deleted = await tx.delete(table).where(inArray(id, batch)).returning({ id });
  return deleted.length;
}

const deleteEndedSessions = (tx: Transaction, before: Date) =>
  deleteBatch(tx, sessions, sessions.id, and(isNotNull(sessions.endedAt), lt(sessions.endedAt, before)));

const deleteSpentRefreshTokens = (tx: Transaction, before: Date) =>
  deleteBatch(tx, refreshTokens, refreshTokens.id, and(isNotNull(refreshTokens.spentAt), lt(refreshTokens.spentAt, before)));

const deleteTombstones = (tx: Transaction, before: Date) =>
  deleteBatch(tx, deletedSessions, deletedSessions.sessionId, lt(deletedSessions.endedAt, before));
