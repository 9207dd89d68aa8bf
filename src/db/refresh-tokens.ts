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

/** A spent token's successor, as a retry with the spent one needs to know it. */
export type SuccessorState =
  /** Never used: the sealed copy, if any, can be opened by the presented token. */
  | { readonly kind: 'unused'; readonly sealed: string | null }
  /** Used, and its own successor is the live token: the family moved on by one step. */
  | { readonly kind: 'used-once' }
  /** None, or used and moved on further. */
  | { readonly kind: 'other' };

/**
 * A presented token with its session, and the state of its direct successor: what tells a lost
 * response or another tab (grace) from theft (reuse). One query.
 */
export async function findRefreshTokenWithSession(
  db: Executor,
  tokenHash: string,
): Promise<(StoredRefreshToken & { session: typeof sessions.$inferSelect; successor: SuccessorState }) | null> {
  const successor = alias(refreshTokens, 'successor');
  const [found] = await db
    .select({
      id: refreshTokens.id,
      sessionId: refreshTokens.sessionId,
      spentAt: refreshTokens.spentAt,
      session: sessions,
      successorId: successor.id,
      successorSpentAt: successor.spentAt,
      sealed: successor.sealedForParent,
      nextIsLive: sql<boolean>`exists (select 1 from ${refreshTokens} next
        where next.parent_id = ${successor.id} and next.spent_at is null)`.mapWith(Boolean),
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    // A token has one successor at most: each spend issues one.
    .leftJoin(successor, eq(successor.parentId, refreshTokens.id))
    .where(eq(refreshTokens.tokenHash, tokenHash));
  if (!found) return null;
  const { successorId, successorSpentAt, sealed, nextIsLive, ...token } = found;
  const state: SuccessorState =
    successorId !== null && successorSpentAt === null
      ? { kind: 'unused', sealed }
      : successorId !== null && nextIsLive
        ? { kind: 'used-once' }
        : { kind: 'other' };
  return { ...token, successor: state };
}

/** Spends every unspent token of the session (there is one: the live token); returns their ids. */
export async function spendLiveTokensOfSession(db: Executor, sessionId: string, now: Date): Promise<string[]> {
  const spent = await db
    .update(refreshTokens)
    .set({ spentAt: now, sealedForParent: null })
    .where(and(eq(refreshTokens.sessionId, sessionId), isNull(refreshTokens.spentAt)))
    .returning({ id: refreshTokens.id });
  return spent.map((row) => row.id);
}
