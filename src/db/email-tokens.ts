import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { emailTokens, sessions, users } from './schema.js';

export type EmailTokenPurpose = 'VERIFY_EMAIL' | 'RESET_PASSWORD' | 'CHANGE_EMAIL';

export interface SpentEmailToken {
  readonly userId: string;
  /** The address it was sent to. */
  readonly email: string;
  /** For an email change: the session that asked. */
  readonly sessionId: string | null;
}

/** Stores a token's hash and spends the user's older unspent tokens of the same purpose. */
export async function insertEmailToken(
  tx: Executor,
  token: {
    userId: string;
    purpose: EmailTokenPurpose;
    email: string;
    sessionId?: string | undefined;
    tokenHash: string;
    now: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await supersedeEmailTokens(tx, token);
  await tx.insert(emailTokens).values({
    id: crypto.randomUUID(),
    userId: token.userId,
    purpose: token.purpose,
    email: token.email,
    sessionId: token.sessionId ?? null,
    tokenHash: token.tokenHash,
    createdAt: token.now,
    expiresAt: token.expiresAt,
  });
}

/** Spends the user's unspent tokens of this purpose: a newer request replaces them. */
export async function supersedeEmailTokens(
  tx: Executor,
  input: { userId: string; purpose: EmailTokenPurpose; now: Date },
): Promise<void> {
  await tx
    .update(emailTokens)
    .set({ spentAt: input.now })
    .where(and(eq(emailTokens.userId, input.userId), eq(emailTokens.purpose, input.purpose), isNull(emailTokens.spentAt)));
}

/**
 * Spends the token in one conditional UPDATE: unspent, unexpired, of this purpose, and (unless it
 * names a new address) sent to the address the account still has. Null when any of that fails;
 * a token of another purpose is left unspent.
 */
export async function spendEmailToken(
  tx: Executor,
  input: { tokenHash: string; purpose: EmailTokenPurpose; now: Date; boundTo: 'account address' | 'new address' },
): Promise<SpentEmailToken | null> {
  const conditions = [
    eq(emailTokens.tokenHash, input.tokenHash),
    eq(emailTokens.purpose, input.purpose),
    isNull(emailTokens.spentAt),
    gt(emailTokens.expiresAt, input.now),
  ];
  if (input.boundTo === 'account address') {
    conditions.push(
      sql`exists (select 1 from ${users} u where u.id = ${emailTokens.userId} and u.email = ${emailTokens.email})`,
    );
  } else {
    // A link to a new address lives only as long as the session that asked for it: a password change
    // or reset (which end that session) must kill a change requested with a stolen password.
    conditions.push(
      sql`exists (select 1 from ${sessions} s where s.id = ${emailTokens.sessionId} and s.ended_at is null and s.expires_at > ${input.now.toISOString()}::timestamptz)`,
    );
  }
  const [row] = await tx
    .update(emailTokens)
    .set({ spentAt: input.now })
    .where(and(...conditions))
    .returning({ userId: emailTokens.userId, email: emailTokens.email, sessionId: emailTokens.sessionId });
  return row ?? null;
}

/** Deletes tokens that expired before `before`. */
export async function pruneEmailTokens(tx: Executor, before: Date): Promise<void> {
  await tx.delete(emailTokens).where(lt(emailTokens.expiresAt, before));
}
