import { eq } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import { recordAuthEvent } from '../db/auth-events.js';
import type { Transaction } from '../db/client.js';
import { users } from '../db/schema.js';
import { deleteUserRows } from '../db/user-deletion.js';
import type { RevocationReason } from '../events/revocation-bus.js';
import { AuthError } from '../errors.js';
import { queueWebhookEvents } from '../webhooks/events.js';
import { isUuid } from './crypto.js';
import type { ClientInfo, SessionLifecycle } from './sessions.js';

/** Who deleted the account: the user (deleteAccount) or an operator (the admin API). */
export type DeletionReason = Extract<RevocationReason, 'ACCOUNT_DELETED' | 'ADMIN'>;

export interface DeleteUserOptions {
  /** The reason every session ends with, and the ACCOUNT_DELETED audit event's reason. */
  readonly reason: DeletionReason;
  /** Who asked, for the audit log. */
  readonly client?: ClientInfo | undefined;
  /**
   * The user asking through one of the account's sessions, with the password version it checked:
   * deleted only if that session was still live and the password unchanged when the deletion locks
   * the account (a password change elsewhere ends the session: SESSION_REVOKED; INVALID_CREDENTIALS).
   */
  readonly asCaller?: { readonly sessionId: string; readonly passwordVersion: number } | undefined;
  /** Runs first in the deletion's transaction, under the account's lock; throws to refuse (nothing is written). */
  readonly guard?: ((tx: Transaction) => Promise<void>) | undefined;
}

/**
 * Deleting an account: the reusable domain function (deleteAccount and the admin API both call it).
 * In one transaction: every live session ends with the reason, announced live (subscriptions, the
 * SSE feed, every instance); the ACCOUNT_DELETED audit event is written; the user's row goes, and
 * with it everything that is the user's (src/db/user-deletion.ts). The address is free again at commit.
 * What is kept: docs/security.md ("Deleting an account").
 */
export class UserDeletion {
  constructor(private readonly deps: { sessions: SessionLifecycle; clock: Clock }) {}

  /** True when the user was deleted; false when there was no such user. */
  async deleteUser(userId: string, options: DeleteUserOptions): Promise<boolean> {
    if (!isUuid(userId)) return false;
    const { reason, client, asCaller, guard } = options;
    return this.deps.sessions.endAllThen({ userId, reason, client }, async (tx, ended) => {
      await guard?.(tx);
      if (asCaller) {
        // Its session ended with the others here only if it was live until now.
        if (!ended.some((event) => event.sessionId === asCaller.sessionId)) throw new AuthError('SESSION_REVOKED');
        const [user] = await tx.select({ version: users.passwordVersion }).from(users).where(eq(users.id, userId));
        if (user?.version !== asCaller.passwordVersion) throw new AuthError('INVALID_CREDENTIALS');
      }
      if (!(await deleteUserRows(tx, userId))) return false;
      const at = this.deps.clock();
      await recordAuthEvent(tx, { type: 'ACCOUNT_DELETED', userId, sessionId: asCaller?.sessionId ?? null, reason, client, at });
      await queueWebhookEvents(tx, 'user.deleted', [{ at, data: { userId, deletedBy: reason === 'ADMIN' ? 'ADMIN' : 'USER' } }]);
      return true;
    });
  }
}
