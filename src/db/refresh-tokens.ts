import { and, eq, isNull, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Executor } from './client.js';
import { refreshTokens, sessions } from './schema.js';

/**
 * Refresh tokens at rest: only their SHA-256. Looking a token up by its hash through a unique index
 * is safe against timing: an attacker cannot steer the hash of a guess towards a stored one.
 */

export interface StoredRefreshToken {
  readonly id: string;
  readonly sessionId: string;
  readonly spentAt: Date | null;
}

export async function insertRefreshToken(
  db: Executor,
  input: { sessionId: string; parentId: string | null; tokenHash: string; createdAt: Date },
): Promise<void> {
  await db.insert(refreshTokens).values({ id: crypto.randomUUID(), ...input });
}

export async function findRefreshToken(db: Executor, tokenHash: string): Promise<StoredRefreshToken | null> {
  const [found] = await db
    .select({ id: refreshTokens.id, sessionId: refreshTokens.sessionId, spentAt: refreshTokens.spentAt })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return found ?? null;
}

/**
 * A presented token with its session, and whether its direct successor is the live (unspent) token
 * of the family: what tells a lost response (grace) from theft (reuse). One query.
 */
export async function findRefreshTokenWithSession(
  db: Executor,
  tokenHash: string,
): Promise<(StoredRefreshToken & { session: typeof sessions.$inferSelect; successorIsLive: boolean }) | null> {
  const successor = alias(refreshTokens, 'successor');
  const [found] = await db
    .select({
      id: refreshTokens.id,
      sessionId: refreshTokens.sessionId,
      spentAt: refreshTokens.spentAt,
      session: sessions,
      successorIsLive: sql<boolean>`exists (${db
        .select({ one: sql`1` })
        .from(successor)
        .where(and(eq(successor.parentId, refreshTokens.id), isNull(successor.spentAt)))})`.mapWith(Boolean),
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return found ?? null;
}

/** Spends every unspent token of the session (there is one: the live token); returns their ids. */
export async function spendLiveTokensOfSession(db: Executor, sessionId: string, now: Date): Promise<string[]> {
  const spent = await db
    .update(refreshTokens)
    .set({ spentAt: now })
    .where(and(eq(refreshTokens.sessionId, sessionId), isNull(refreshTokens.spentAt)))
    .returning({ id: refreshTokens.id });
  return spent.map((row) => row.id);
}
