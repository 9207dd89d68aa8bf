import { and, asc, eq, lt } from 'drizzle-orm';
import type { Executor } from './client.js';
import { passkeys, webauthnChallenges } from './schema.js';

export type PasskeyRow = typeof passkeys.$inferSelect;
export type ChallengeRow = typeof webauthnChallenges.$inferSelect;
export type ChallengePurpose = 'REGISTRATION' | 'SIGN_IN' | 'SECOND_STEP';

/** Null when the credential id is already registered (to this user or another): it belongs to one user. */
export async function insertPasskey(tx: Executor, row: typeof passkeys.$inferInsert): Promise<PasskeyRow | null> {
  const [inserted] = await tx.insert(passkeys).values(row).onConflictDoNothing().returning();
  return inserted ?? null;
}

export async function listPasskeys(db: Executor, userId: string): Promise<PasskeyRow[]> {
  return db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt), asc(passkeys.id));
}

export async function findPasskeyByCredentialId(db: Executor, credentialId: string): Promise<PasskeyRow | null> {
  const [row] = await db.select().from(passkeys).where(eq(passkeys.credentialId, credentialId));
  return row ?? null;
}

/** Null when there is no such passkey of this user (another user's is not found either). */
export async function renamePasskey(
  db: Executor,
  input: { id: string; userId: string; name: string },
): Promise<PasskeyRow | null> {
  const [row] = await db
    .update(passkeys)
    .set({ name: input.name })
    .where(and(eq(passkeys.id, input.id), eq(passkeys.userId, input.userId)))
    .returning();
  return row ?? null;
}

export async function deletePasskey(db: Executor, input: { id: string; userId: string }): Promise<boolean> {
  const rows = await db
    .delete(passkeys)
    .where(and(eq(passkeys.id, input.id), eq(passkeys.userId, input.userId)))
    .returning({ id: passkeys.id });
  return rows.length > 0;
}

/**
 * Stores the counter of a verified response, only if the stored one is still the one checked
 * against: of two responses verified at once against the same counter, one loses (a cloned
 * authenticator, or a replay racing its original).
 */
export async function recordPasskeyUse(
  tx: Executor,
  input: { id: string; checkedCounter: number; newCounter: number; at: Date },
): Promise<boolean> {
  const rows = await tx
    .update(passkeys)
    .set({ signCounter: input.newCounter, lastUsedAt: input.at })
    .where(and(eq(passkeys.id, input.id), eq(passkeys.signCounter, input.checkedCounter)))
    .returning({ id: passkeys.id });
  return rows.length > 0;
}

/**
 * Stores a challenge, and deletes those that expired unanswered: anyone may start a passwordless
 * sign-in, so the table is kept to what could still be answered rather than left to a sweeper.
 */
export async function insertChallenge(db: Executor, row: typeof webauthnChallenges.$inferInsert): Promise<void> {
  await pruneChallenges(db, row.createdAt);
  await db.insert(webauthnChallenges).values(row);
}

/** Takes the challenge out (single use) whether or not it has expired; the caller judges its age. */
export async function takeChallengeById(db: Executor, id: string): Promise<ChallengeRow | null> {
  const [row] = await db.delete(webauthnChallenges).where(eq(webauthnChallenges.id, id)).returning();
  return row ?? null;
}

/** As takeChallengeById, for a registration answer, which names its challenge only inside clientDataJSON. */
export async function takeRegistrationChallenge(
  db: Executor,
  input: { challengeHash: string; userId: string },
): Promise<ChallengeRow | null> {
  const [row] = await db
    .delete(webauthnChallenges)
    .where(
      and(
        eq(webauthnChallenges.challengeHash, input.challengeHash),
        eq(webauthnChallenges.purpose, 'REGISTRATION' satisfies ChallengePurpose),
        eq(webauthnChallenges.userId, input.userId),
      ),
    )
    .returning();
  return row ?? null;
}

/** Deletes challenges that expired before `before` (never answered). */
export async function pruneChallenges(db: Executor, before: Date): Promise<void> {
  await db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, before));
}
