import { and, eq, isNotNull, isNull } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { listAuthEvents, recordAuthEvent, type AuditedClient, type AuthEvent } from '../../db/auth-events.js';
import type { Database, Transaction } from '../../db/client.js';
import { users } from '../../db/schema.js';
import { AuthError, badInput } from '../../errors.js';
import { AUTH_EVENTS_MAX_PAGE } from '../accounts.js';
import type { Viewer } from '../authentication.js';
import { isUuid } from '../crypto.js';
import type { SessionView, TokenIssuer } from '../issued-tokens.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import { findUserById, type Account, type Role } from '../users.js';
import { isLastAdmin, lockAdmins } from './roles.js';
import { listUsers, type UserPage } from './user-directory.js';

const REASON_MAX_LENGTH = 500;

/**
 * What an admin does to other accounts. The caller is an admin already (the API's `admin` scope);
 * every change is audited on the target's log with the admin as actor, in the transaction that makes it.
 */
export class AdminUseCases {
  constructor(private readonly deps: { db: Database; clock: Clock; sessions: SessionLifecycle; tokens: TokenIssuer }) {}

  listUsers(input: { query: string | null; first: number; after: string | null }): Promise<UserPage> {
    return listUsers(this.deps.db, input);
  }

  /** Null for an unknown id (or one that is no uuid). */
  findUser(userId: string): Promise<Account | null> {
    return isUuid(userId) ? findUserById(this.deps.db, userId) : Promise.resolve(null);
  }

  /** The user's live sessions, most recently used first; `current` marks the admin's own. */
  async sessionsOf(admin: Viewer, userId: string): Promise<SessionView[]> {
    const sessions = await this.deps.sessions.listLive(userId);
    return sessions.map((session) => this.deps.tokens.view(session, admin.sessionId));
  }

  /** The user's audit log, newest first, as the user sees it in myAuthEvents. */
  authEventsOf(userId: string, first: number): Promise<AuthEvent[]> {
    if (!Number.isInteger(first) || first < 1 || first > AUTH_EVENTS_MAX_PAGE) {
      throw badInput('first', `first must be between 1 and ${AUTH_EVENTS_MAX_PAGE}.`);
    }
    return listAuthEvents(this.deps.db, userId, first);
  }

  /**
   * Disables the account and ends every session of it (reason ADMIN) in one transaction, announced to
   * every instance: its access tokens are refused at once, and no sign-in starts a session until
   * enableUser (ACCOUNT_DISABLED, told only after the password checked). The last admin cannot be disabled.
   */
  async disableUser(admin: Viewer, userId: string, reason: string | null, client: ClientInfo): Promise<Account> {
    const note = reason?.trim() ? reason.trim() : null;
    if (note && note.length > REASON_MAX_LENGTH) throw badInput('reason', `The reason must be at most ${REASON_MAX_LENGTH} characters long.`);
    const actor = actorOf(admin, client);
    await this.deps.sessions.endAllAlong(
      'ADMIN',
      async (tx) => {
        const admins = await lockAdmins(tx);
        await this.#lockTarget(tx, userId);
        if (isLastAdmin(admins, userId)) throw lastAdmin('userId');
        const at = this.deps.clock();
        const changed = await tx
          .update(users)
          .set({ disabledAt: at, disabledReason: note })
          .where(and(eq(users.id, userId), isNull(users.disabledAt)))
          .returning({ id: users.id });
        if (changed.length > 0) await recordAuthEvent(tx, { type: 'USER_DISABLED', userId, detail: note, client: actor, at });
        return userId;
      },
      actor,
    );
    return this.#reload(userId);
  }

  /** Lets the user sign in again (sessions ended by disableUser stay ended). */
  async enableUser(admin: Viewer, userId: string, client: ClientInfo): Promise<Account> {
    await this.deps.db.transaction(async (tx) => {
      await this.#lockTarget(tx, userId);
      const changed = await tx
        .update(users)
        .set({ disabledAt: null, disabledReason: null })
        .where(and(eq(users.id, userId), isNotNull(users.disabledAt)))
        .returning({ id: users.id });
      if (changed.length > 0) {
        await recordAuthEvent(tx, { type: 'USER_ENABLED', userId, client: actorOf(admin, client), at: this.deps.clock() });
      }
    });
    return this.#reload(userId);
  }

  /** Ends every session of the user (reason ADMIN), live everywhere; returns how many ended. */
  async revokeUserSessions(admin: Viewer, userId: string, client: ClientInfo): Promise<number> {
    const actor = actorOf(admin, client);
    const ended = await this.deps.sessions.endAllAlong(
      'ADMIN',
      async (tx) => {
        await this.#lockTarget(tx, userId);
        await recordAuthEvent(tx, { type: 'USER_SESSIONS_REVOKED', userId, client: actor, at: this.deps.clock() });
        return userId;
      },
      actor,
    );
    return ended.length;
  }

  /**
   * Gives the user this role. Demoting the last admin (enabled) is refused: nobody could then
   * administer the server but through the command line. The new role applies to the admin API at
   * once (read per request); the token's role claim follows at its next refresh.
   */
  async setUserRole(admin: Viewer, userId: string, role: Role, client: ClientInfo): Promise<Account> {
    await this.deps.db.transaction(async (tx) => {
      const admins = await lockAdmins(tx);
      const current = await this.#lockTarget(tx, userId);
      if (current.role === role) return;
      if (role !== 'ADMIN' && isLastAdmin(admins, userId)) throw lastAdmin('role');
      await tx.update(users).set({ role }).where(eq(users.id, userId));
      await recordAuthEvent(tx, { type: 'USER_ROLE_CHANGED', userId, detail: role, client: actorOf(admin, client), at: this.deps.clock() });
    });
    return this.#reload(userId);
  }

  /** Locks the target's row for the transaction (NO KEY UPDATE, as lockUsers takes); NOT_FOUND if none. */
  async #lockTarget(tx: Transaction, userId: string): Promise<{ role: Role }> {
    if (!isUuid(userId)) throw notFound();
    const [user] = await tx.select({ role: users.role }).from(users).where(eq(users.id, userId)).for('no key update');
    if (!user) throw notFound();
    return user;
  }

  async #reload(userId: string): Promise<Account> {
    const user = await findUserById(this.deps.db, userId);
    if (!user) throw notFound();
    return user;
  }
}

/** The admin's request as the target's audit log records it. */
function actorOf(admin: Viewer, client: ClientInfo): AuditedClient {
  return { ...client, actorId: admin.userId };
}

function notFound(): AuthError {
  return new AuthError('NOT_FOUND', 'No such user.');
}

function lastAdmin(field: string): AuthError {
  return badInput(field, 'This is the last admin: make another user an admin first.');
}
