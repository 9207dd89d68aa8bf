import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { emailTokens, mailOutbox, users } from './schema.js';

/**
 * Deletes the user's row, and with it (foreign keys ON DELETE CASCADE) every row that is the user's:
 * sessions (tombstoned for the revocation window by drizzle/0009), refresh tokens, email tokens, and
 * whatever later tables reference users the same way. Mail not yet sent to the user's address, or to
 * an address a pending email change named, is dropped. The audit log (no foreign key) is kept.
 * False when there was no such user. Call it with the user's row locked (lockUsers).
 */
export async function deleteUserRows(tx: Executor, userId: string): Promise<boolean> {
  // Read before the cascade deletes them: a link on its way to a new address must not leave either.
  const pending = await tx
    .select({ email: emailTokens.email })
    .from(emailTokens)
    .where(and(eq(emailTokens.userId, userId), isNull(emailTokens.spentAt)));
  const [deleted] = await tx.delete(users).where(eq(users.id, userId)).returning({ email: users.email });
  if (!deleted) return false;
  const addresses = [...new Set([deleted.email, ...pending.map((token) => token.email)])];
  await tx.delete(mailOutbox).where(
    and(
      inArray(mailOutbox.recipient, addresses),
      isNull(mailOutbox.sentAt),
      // A new address someone else has signed up with since: that one's mail is theirs.
      sql`not exists (select 1 from ${users} u where u.email = ${mailOutbox.recipient})`,
    ),
  );
  return true;
}
