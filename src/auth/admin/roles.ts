import { and, eq, isNull } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Executor, Transaction } from '../../db/client.js';
import { users } from '../../db/schema.js';

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
 * Locks every enabled admin's row (NO KEY UPDATE, in id order) and returns their ids. Whatever may
 * leave the server without an admin (demoting, disabling, deleting one) takes this first, before the
 * target's own row: two of them then queue instead of each holding what the other waits for, and the
 * count they read stays true until they commit.
 */
export async function lockAdmins(tx: Transaction): Promise<string[]> {
  const admins = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'ADMIN'), isNull(users.disabledAt)))
    .orderBy(users.id)
    .for('no key update');
  return admins.map((admin) => admin.id);
}

/** Whether `userId` is the only enabled admin, of the ids lockAdmins returned. */
export function isLastAdmin(admins: readonly string[], userId: string): boolean {
  return admins.length === 1 && admins[0] === userId;
}
