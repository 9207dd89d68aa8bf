import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import type { Executor } from '../../db/client.js';
import { mfaTokens } from '../../db/schema.js';
import { randomToken, sha256Hex } from '../crypto.js';
import type { AuthenticationMethod } from './methods.js';

/** How the first step asked for its refresh token (the GraphQL TokenDelivery); the second step honours it. */
export type DeliveryChoice = 'BODY' | 'COOKIE';

/** Five minutes: long enough to open an authenticator app, short enough that a leaked token is soon useless. */
export const MFA_TOKEN_TTL_SECONDS = 300;

/** What the first step left for the second: whom it signs in, and how. */
export interface PendingSignIn {
  readonly id: string;
  readonly userId: string;
  readonly firstFactor: AuthenticationMethod;
  readonly deviceName: string | null;
  readonly delivery: DeliveryChoice;
  readonly passwordVersion: number | null;
}

/**
 * The `mfaToken`: 256 random bits handed to the client, only its SHA-256 stored. Looked up by that
 * hash through a unique index, as refresh tokens are: a guess cannot be steered towards a stored hash.
 */
export async function issueMfaToken(
  db: Executor,
  clock: Clock,
  pending: Omit<PendingSignIn, 'id'>,
): Promise<string> {
  const token = randomToken();
  const now = clock();
  await db.insert(mfaTokens).values({
    id: crypto.randomUUID(),
    tokenHash: sha256Hex(token),
    ...pending,
    createdAt: now,
    expiresAt: new Date(now.getTime() + MFA_TOKEN_TTL_SECONDS * 1000),
  });
  return token;
}

/** The pending sign-in of a live (unused, unexpired) token, or null. Reading does not spend it: a wrong code may be retried. */
export async function findMfaToken(db: Executor, clock: Clock, token: string): Promise<PendingSignIn | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const [row] = await db
    .select()
    .from(mfaTokens)
    .where(and(eq(mfaTokens.tokenHash, sha256Hex(token)), isNull(mfaTokens.usedAt), gt(mfaTokens.expiresAt, clock())));
  if (!row) return null;
  return {
    id: row.id,
    userId: row.userId,
    firstFactor: row.firstFactor as AuthenticationMethod,
    deviceName: row.deviceName,
    delivery: row.delivery === 'COOKIE' ? 'COOKIE' : 'BODY',
    passwordVersion: row.passwordVersion,
  };
}

/** Spends the token: true for exactly one of concurrent callers, and only while it is still live. */
export async function spendMfaToken(db: Executor, clock: Clock, id: string): Promise<boolean> {
  const now = clock();
  const spent = await db
    .update(mfaTokens)
    .set({ usedAt: now })
    .where(and(eq(mfaTokens.id, id), isNull(mfaTokens.usedAt), gt(mfaTokens.expiresAt, now)))
    .returning({ id: mfaTokens.id });
  return spent.length === 1;
}

/** Spends the token by id, as spendMfaToken, returning the pending sign-in it stood for (null: already spent or expired). */
export async function takeMfaToken(db: Executor, clock: Clock, id: string): Promise<PendingSignIn | null> {
  const now = clock();
  const [row] = await db
    .update(mfaTokens)
    .set({ usedAt: now })
    .where(and(eq(mfaTokens.id, id), isNull(mfaTokens.usedAt), gt(mfaTokens.expiresAt, now)))
    .returning();
  if (!row) return null;
  return {
    id: row.id,
    userId: row.userId,
    firstFactor: row.firstFactor as AuthenticationMethod,
    deviceName: row.deviceName,
    delivery: row.delivery === 'COOKIE' ? 'COOKIE' : 'BODY',
    passwordVersion: row.passwordVersion,
  };
}

/** Deletes tokens expired more than an hour ago (used ones expire too). */
export async function sweepMfaTokens(db: Executor, now: Date): Promise<void> {
  await db.delete(mfaTokens).where(lt(mfaTokens.expiresAt, new Date(now.getTime() - 3_600_000)));
}
