import DataLoader from 'dataloader';
import { listAuthEvents, type AuthEvent } from '../db/auth-events.js';
import type { Database } from '../db/client.js';
import { AuthError, badInput } from '../errors.js';
import type { Viewer } from './authentication.js';
import { prepareFindUsersByIds, type Account, type UserReference } from './users.js';

export { authEventTypes, type AuthEvent, type AuthEventType } from '../db/auth-events.js';

export const AUTH_EVENTS_MAX_PAGE = 100;
/** Bounds the array parameter of one coalesced read of users. */
const USERS_PER_READ = 500;

/** What the signed-in user reads about the account: who it is, and its audit log. */
export class AccountReads {
  /**
   * Users by id, read fresh on every load (no cache); the loads of one turn of the event loop go as
   * one statement, and each is issued after its request arrived, so it sees every deletion committed before.
   */
  readonly #usersById: DataLoader<string, Account>;

  constructor(private readonly deps: { db: Database }) {
    const findUsersByIds = prepareFindUsersByIds(deps.db);
    this.#usersById = new DataLoader<string, Account>(
      async (ids): Promise<(Account | Error)[]> => {
        const byId = new Map((await findUsersByIds(ids)).map((user) => [user.id, user]));
        // A missing account is SESSION_REVOKED: it is gone, and its sessions with it.
        return ids.map((id) => byId.get(id) ?? new AuthError('SESSION_REVOKED'));
      },
      { cache: false, batchScheduleFn: (run) => setImmediate(run), maxBatchSize: USERS_PER_READ },
    );
  }

  /**
   * The signed-in user's id comes from the verified token: `me { id }` costs no query. A deleted
   * account is no exception: deleting its row deletes its sessions, which the database announces
   * as revocations (drizzle/0005_announce_deleted_sessions.sql), so its token is refused already.
   */
  me(viewer: Viewer): UserReference {
    return { id: viewer.userId };
  }

  /** A user by id, for the fields a token does not carry; loads resolved together are read together. */
  findUser(id: string): Promise<Account> {
    return this.#usersById.load(id);
  }

  /**
   * Whether the caller may use the admin API: the role as the user's row says now (not the token's
   * claim, which may predate a demotion), and not disabled.
   */
  async isAdmin(viewer: Viewer): Promise<boolean> {
    const user = await this.findUser(viewer.userId);
    return user.role === 'ADMIN' && !user.disabled;
  }

  /** The caller's audit log, newest first: where and how the account was used. */
  async myAuthEvents(viewer: Viewer, first: number): Promise<AuthEvent[]> {
    if (!Number.isInteger(first) || first < 1 || first > AUTH_EVENTS_MAX_PAGE) {
      throw badInput('first', `first must be between 1 and ${AUTH_EVENTS_MAX_PAGE}.`);
    }
    return listAuthEvents(this.deps.db, viewer.userId, first);
  }
}
