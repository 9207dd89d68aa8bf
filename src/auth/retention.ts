import { and, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import { rowsOf, type Database, type Transaction } from '../db/client.js';
import { refreshTokens, sessions } from '../db/schema.js';
import { pruneAuthEvents } from './audit.js';

/** Durations in seconds. */
export interface RetentionPolicy {
  /** Ended sessions (with their refresh tokens) and spent refresh tokens are kept this long. */
  readonly sessionRetention: number;
  /** auth_events rows are kept this long. */
  readonly authEventRetention: number;
}

export interface RetentionSweep {
  readonly sessions: number;
  readonly refreshTokens: number;
  readonly authEvents: number;
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
  const total = { sessions: 0, refreshTokens: 0, authEvents: 0 };
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch += 1) {
    const now = deps.clock().getTime();
    const sessionHorizon = new Date(now - deps.policy.sessionRetention * 1000);
    const eventHorizon = new Date(now - deps.policy.authEventRetention * 1000);
    const swept = await deps.db.transaction(async (tx) => {
      if (!(await tryLock(tx))) return null;
      return {
        sessions: await deleteEndedSessions(tx, sessionHorizon),
        refreshTokens: await deleteSpentRefreshTokens(tx, sessionHorizon),
        authEvents: await pruneAuthEvents(tx, eventHorizon, RETENTION_BATCH),
      };
    });
    if (!swept) break;
    total.sessions += swept.sessions;
    total.refreshTokens += swept.refreshTokens;
    total.authEvents += swept.authEvents;
    if (Math.max(swept.sessions, swept.refreshTokens, swept.authEvents) < RETENTION_BATCH) break;
  }
  return total;
}

async function tryLock(tx: Transaction): Promise<boolean> {
  const rows = rowsOf<{ locked: boolean }>(
    await tx.execute(sql`select pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) as locked`),
  );
  return rows[0]?.locked === true;
}

async function deleteEndedSessions(tx: Transaction, before: Date): Promise<number> {
  const old = tx
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(isNotNull(sessions.endedAt), lt(sessions.endedAt, before)))
    .limit(RETENTION_BATCH);
  const deleted = await tx.delete(sessions).where(inArray(sessions.id, old)).returning({ id: sessions.id });
  return deleted.length;
}

async function deleteSpentRefreshTokens(tx: Transaction, before: Date): Promise<number> {
  const old = tx
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(and(isNotNull(refreshTokens.spentAt), lt(refreshTokens.spentAt, before)))
    .limit(RETENTION_BATCH);
  const deleted = await tx
    .delete(refreshTokens)
    .where(inArray(refreshTokens.id, old))
    .returning({ id: refreshTokens.id });
  return deleted.length;
}
