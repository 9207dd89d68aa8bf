import { gte } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { deletedSessions, sessions } from '../db/schema.js';

/** One session end as the revocation stream sends it. */
export interface EndedSession {
  readonly sessionId: string;
  readonly userId: string;
  readonly reason: string;
  readonly endedAt: Date;
}

/**
 * Every session that ended at or after `since`, oldest first, from the sessions table and from the
 * tombstones of sessions deleted outright: what any instance, restarted or not, can answer from.
 */
export async function endedSince(db: Executor, since: Date): Promise<EndedSession[]> {
  const rows = await db
    .select({ sessionId: sessions.id, userId: sessions.userId, endedAt: sessions.endedAt, reason: sessions.endReason })
    .from(sessions)
    .where(gte(sessions.endedAt, since))
    .unionAll(
      db
        .select({
          sessionId: deletedSessions.sessionId,
          userId: deletedSessions.userId,
          endedAt: deletedSessions.endedAt,
          reason: deletedSessions.endReason,
        })
        .from(deletedSessions)
        .where(gte(deletedSessions.endedAt, since)),
    );
  return rows
    .map((row) => ({ sessionId: row.sessionId, userId: row.userId, reason: row.reason ?? 'ADMIN', endedAt: row.endedAt ?? since }))
    .sort((a, b) => a.endedAt.getTime() - b.endedAt.getTime());
}
