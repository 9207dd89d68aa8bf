import { and, eq } from 'drizzle-orm';
import type { Database } from './client.js';
import { liveAt, type LiveWindow } from './live-window.js';
import { insertRefreshToken, spendLiveTokensOfSession } from './refresh-tokens.js';
import { sessions } from './schema.js';

type SessionRecord = typeof sessions.$inferSelect;

/**
 * A fresh proof in a live session (reauthenticate), in one transaction: the session records the
 * methods and the time, its live refresh token is spent and a successor inserted (the caller gets
 * new tokens for the same session). Null, and nothing written, when the session is no longer live.
 */
export async function restampSession(
  db: Database,
  input: { userId: string; sessionId: string; authenticationMethods: readonly string[]; successorHash: string },
  window: LiveWindow,
): Promise<SessionRecord | null> {
  return db.transaction(async (tx) => {
    // Locks the session's row: a concurrent logout or rotation waits for this transaction, or this one for it.
    const [session] = await tx
      .update(sessions)
      .set({
        authenticationMethods: [...input.authenticationMethods],
        authenticatedAt: window.now,
        lastUsedAt: window.now,
      })
      .where(and(eq(sessions.id, input.sessionId), eq(sessions.userId, input.userId), ...liveAt(window)))
      .returning();
    if (!session) return null;
    const [spentId] = await spendLiveTokensOfSession(tx, session.id, window.now);
    await insertRefreshToken(tx, {
      sessionId: session.id,
      parentId: spentId ?? null,
      tokenHash: input.successorHash,
      createdAt: window.now,
    });
    return session;
  });
}
