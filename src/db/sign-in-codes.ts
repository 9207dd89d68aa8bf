import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { signInCodes, users } from './schema.js';

export interface LiveSignInCode {
  readonly id: string;
  readonly codeHash: string;
}

/** Stores a code's hash and spends the user's older live codes: only the newest one works. */
export async function insertSignInCode(
  tx: Executor,
  code: { userId: string; email: string; codeHash: string; now: Date; expiresAt: Date },
): Promise<void> {
  await tx
    .update(signInCodes)
    .set({ spentAt: code.now })
    .where(and(eq(signInCodes.userId, code.userId), isNull(signInCodes.spentAt)));
  await tx.insert(signInCodes).values({
    id: crypto.randomUUID(),
    userId: code.userId,
    email: code.email,
    codeHash: code.codeHash,
    createdAt: code.now,
    expiresAt: code.expiresAt,
  });
}

/**
 * The user's live code (unspent, unexpired, with tries left, sent to the address the account still
 * has), locked until `tx` ends so that concurrent tries are counted one after another.
 */
export async function lockLiveSignInCode(
  tx: Executor,
  input: { userId: string; now: Date; maxTries: number },
): Promise<LiveSignInCode | null> {
  const [row] = await tx
    .select({ id: signInCodes.id, codeHash: signInCodes.codeHash })
    .from(signInCodes)
    .where(
      and(
        eq(signInCodes.userId, input.userId),
        isNull(signInCodes.spentAt),
        gt(signInCodes.expiresAt, input.now),
        lt(signInCodes.failedTries, input.maxTries),
        sql`exists (select 1 from ${users} u where u.id = ${signInCodes.userId} and u.email = ${signInCodes.email})`,
      ),
    )
    .for('update');
  return row ?? null;
}

/** Counts a wrong try; the one that uses up the allowance spends the code. */
export async function recordWrongTry(tx: Executor, input: { id: string; now: Date; maxTries: number }): Promise<void> {
  await tx
    .update(signInCodes)
    .set({
      failedTries: sql`${signInCodes.failedTries} + 1`,
      spentAt: sql`case when ${signInCodes.failedTries} + 1 >= ${input.maxTries} then ${input.now.toISOString()}::timestamptz else null end`,
    })
    .where(eq(signInCodes.id, input.id));
}

export async function spendSignInCode(tx: Executor, input: { id: string; now: Date }): Promise<void> {
  await tx.update(signInCodes).set({ spentAt: input.now }).where(eq(signInCodes.id, input.id));
}

/** Deletes codes that expired before `before`. */
export async function pruneSignInCodes(tx: Executor, before: Date): Promise<void> {
  await tx.delete(signInCodes).where(lt(signInCodes.expiresAt, before));
}
