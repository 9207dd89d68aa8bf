import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { recordAuthEvent, type AuditedClient } from '../../db/auth-events.js';
import type { Executor, Transaction } from '../../db/client.js';
import { users } from '../../db/schema.js';
import type { Role } from '../users.js';

/** What granting a role by email did. */
export type GrantOutcome = 'granted' | 'already' | 'no-such-user';

/**
 * Makes the user of this (normalised) email an admin: the first admin's way in, from the command
 * line (no actor: the operator with database access). Audited as USER_ROLE_CHANGED.
 */
export async function grantAdminByEmail(db: Executor, clock: Clock, email: string): Promise<GrantOutcome> {
  const [user] = await db.select({ id: users.id, role: users.role }).from(users).where(eq(users.email, email));
  if (!user) return 'no-such-user';
  if (user.role === 'ADMIN') return 'already';
  await db.transaction(async (tx) => {
    await tx.update(users).set({ role: 'ADMIN' }).where(eq(users.id, user.id));
    await recordAuthEvent(tx, { type: 'USER_ROLE_CHANGED', userId: user.id, detail: 'ADMIN', client: null, at: clock() });
  });
  return 'granted';
}

/**
 * Locks every enabled admin's row (in id order, so two of these cannot deadlock) and says whether
 * `userId` is the only one: then it may not be demoted, disabled or deleted, or nobody could
 * administer the server any more but through the command line.
 */
export async function isLastAdmin(tx: Transaction, userId: string): Promise<boolean> {
  const admins = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'ADMIN'), isNull(users.disabledAt)))
    .orderBy(users.id)
    .for('update');
  return admins.length === 1 && admins[0]!.id === userId;
}

/** Sets the role and audits it with the admin who did it; false when there is no such user. */
export async function writeRole(
  tx: Transaction,
  input: { userId: string; role: Role; actor: AuditedClient; at: Date },
): Promise<boolean> {
  const changed = await tx
    .update(users)
    .set({ role: input.role })
    .where(and(eq(users.id, input.userId), sql`${users.role} <> ${input.role}`))
    .returning({ id: users.id });
  if (changed.length > 0) {
    await recordAuthEvent(tx, { type: 'USER_ROLE_CHANGED', userId: input.userId, detail: input.role, client: input.actor, at: input.at });
  }
  return true;
}
