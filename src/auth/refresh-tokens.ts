import { and, eq, isNull } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { refreshTokens } from '../db/schema.js';
import { randomToken, REFRESH_TOKEN_PATTERN, sha256Hex } from './crypto.js';

/**
 * Refresh tokens at rest: only their SHA-256. Looking a token up by its hash through a unique index
 * is safe against timing: an attacker cannot steer the hash of a guess towards a stored one.
 */

export interface StoredRefreshToken {
  readonly id: string;
  readonly sessionId: string;
  readonly spentAt: Date | null;
}

/** A string that cannot be one of our tokens is refused before it costs a query. */
export function isWellFormedRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_PATTERN.test(token);
}

/** Creates a token in the session's family; returns the only copy of the secret that will ever exist. */
export async function issueRefreshToken(
  db: Executor,
  input: { sessionId: string; parentId: string | null; now: Date },
): Promise<string> {
  const token = randomToken(32);
  await db.insert(refreshTokens).values({
    id: crypto.randomUUID(),
    sessionId: input.sessionId,
    parentId: input.parentId,
    tokenHash: sha256Hex(token),
    createdAt: input.now,
  });
  return token;
}

/**
 * Spends the token if it is unspent, in one conditional UPDATE: of any number of concurrent calls
 * with one token, exactly one gets a row back.
 */
export async function spendRefreshToken(db: Executor, token: string, now: Date): Promise<StoredRefreshToken | null> {
  const [spent] = await db
    .update(refreshTokens)
    .set({ spentAt: now })
    .where(and(eq(refreshTokens.tokenHash, sha256Hex(token)), isNull(refreshTokens.spentAt)))
    .returning({ id: refreshTokens.id, sessionId: refreshTokens.sessionId, spentAt: refreshTokens.spentAt });
  return spent ?? null;
}

export async function findRefreshToken(db: Executor, token: string): Promise<StoredRefreshToken | null> {
  const [found] = await db
    .select({ id: refreshTokens.id, sessionId: refreshTokens.sessionId, spentAt: refreshTokens.spentAt })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256Hex(token)));
  return found ?? null;
}

/** True when the token's direct successor is the live (unspent) token of its family. */
export async function isPredecessorOfLiveToken(db: Executor, tokenId: string): Promise<boolean> {
  const [child] = await db
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.parentId, tokenId), isNull(refreshTokens.spentAt)))
    .limit(1);
  return child !== undefined;
}
