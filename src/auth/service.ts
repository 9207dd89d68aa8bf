import DataLoader from 'dataloader';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AuthError, badInput } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import { AUTH_EVENTS_MAX_PAGE, listAuthEvents, recordAuthEvent, type AuthEvent } from './audit.js';
import { isUuid } from './crypto.js';
import type { PendingEnds } from './pending-ends.js';
import { DummyPasswordHash, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { RevocationSet } from './revocations.js';
import type { ClientInfo, SessionRecord, SessionService } from './sessions.js';
import type { Throttle } from './throttle.js';
import {
  findCredentials,
  findCredentialsById,
  prepareFindUsersByIds,
  insertUser,
  isWellFormed,
  normaliseEmail,
  normaliseNewPassword,
  normalisePresentedPassword,
  updatePasswordHash,
  type User,
  type UserReference,
} from './users.js';

/** Who is calling, established from a verified access token of a live session. */
export interface Viewer {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenExpiresAt: Date;
}

export type Authentication =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'signed-in'; readonly viewer: Viewer }
  | {
      readonly kind: 'refused';
      readonly code: 'TOKEN_EXPIRED' | 'INVALID_TOKEN' | 'SESSION_REVOKED' | 'SERVICE_UNAVAILABLE';
      /**
       * SERVICE_UNAVAILABLE only: whom the token names (signature and expiry checked); whether its
       * session has ended could not be read. Enough to log that session out, never to act as it.
       */
      readonly claimed?: Viewer;
    };

export interface SessionView {
  readonly id: string;
  readonly current: boolean;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  readonly expiresAt: Date;
}

export interface IssuedTokens {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: Date;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: Date;
  readonly user: User;
  readonly session: SessionView;
}

export interface Credentials {
  readonly email: string;
  readonly password: string;
  readonly deviceName?: string | null | undefined;
}

const DEVICE_NAME_MAX_LENGTH = 100;
/** Bounds the array parameter of one coalesced read of users. */
const USERS_PER_READ = 500;

/** The session layer's use cases; knows nothing of GraphQL or HTTP. */
export class AuthService {
  readonly #dummyHash = new DummyPasswordHash();
  /**
   * Users by id, read fresh from the database on every load (no cache), but the loads of one turn of
   * the event loop go as one statement: under load, the `me` of many concurrent requests costs one
   * round trip instead of one each. Each load is still issued after its request arrived, so it sees
   * every deletion committed before.
   */
  readonly #usersById: DataLoader<string, User>;

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      sessions: SessionService;
      accessTokens: AccessTokens;
      revocations: RevocationSet;
      throttle: Throttle;
      pendingEnds: PendingEnds;
    },
  ) {
    const findUsersByIds = prepareFindUsersByIds(deps.db);
    this.#usersById = new DataLoader<string, User>(
      async (ids): Promise<(User | Error)[]> => {
        const byId = new Map((await findUsersByIds(ids)).map((user) => [user.id, user]));
        // A missing account is SESSION_REVOKED: it is gone, and its sessions with it.
        return ids.map((id) => byId.get(id) ?? new AuthError('SESSION_REVOKED'));
      },
      { cache: false, batchScheduleFn: (run) => setImmediate(run), maxBatchSize: USERS_PER_READ },
    );
  }

  /** Reads `Authorization: Bearer <jwt>`; never queries the database. */
  async authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (!authorization) return { kind: 'anonymous' };
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) return { kind: 'refused', code: 'INVALID_TOKEN' };
    const check = await this.deps.accessTokens.verify(match[1]!);
    if (!check.ok) return { kind: 'refused', code: check.code };
    const { userId, sessionId, expiresAt } = check.claims;
    // Keyed on sid, never on the token string: ECDSA signatures are malleable.
    const ended = await this.#hasEnded(sessionId);
    const viewer = { userId, sessionId, tokenExpiresAt: expiresAt };
    if (ended === 'unknown') return { kind: 'refused', code: 'SERVICE_UNAVAILABLE', claimed: viewer };
    if (ended) return { kind: 'refused', code: 'SESSION_REVOKED' };
    return { kind: 'signed-in', viewer };
  }

  /** Whether this instance already knows the session ended; synchronous, for transports re-checking. */
  hasEndedLocally(sessionId: string): boolean {
    return this.deps.revocations.has(sessionId);
  }

  /** The in-memory set; the database only while the set may be stale (after a lost LISTEN connection). */
  async #hasEnded(sessionId: string): Promise<boolean | 'unknown'> {
    const { revocations, sessions } = this.deps;
    if (revocations.has(sessionId)) return true;
    if (revocations.synchronised) return false;
    try {
      const session = await sessions.findSession(sessionId);
      return !session || session.endedAt !== null;
    } catch {
      // Neither "valid" nor "invalid token": the truth cannot be known right now.
      return 'unknown';
    }
  }

  async signUp(input: Credentials, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const email = normaliseEmail(input.email);
    const password = await normaliseNewPassword(input.password);
    await this.deps.throttle.signUp(client.ip);
    const passwordHash = await hashPassword(password);
    // The account and its first session commit together: a failure in between leaves no account
    // that the caller cannot log in to yet cannot sign up again (EMAIL_TAKEN).
    const created: { user?: User } = {};
    const userId = crypto.randomUUID();
    const { session, refreshToken } = await this.deps.sessions.createSession({
      userId,
      deviceName,
      client,
      cause: 'SIGNED_UP',
      alsoIn: async (tx) => {
        const user = await insertUser(tx, this.deps.clock, { id: userId, email, passwordHash });
        if (!user) throw new AuthError('EMAIL_TAKEN');
        created.user = user;
      },
    });
    return this.#issue(created.user!, session, refreshToken);
  }

  async login(input: Credentials, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const password = normalisePresentedPassword(input.password);
    const email = normaliseEmail(input.email);
    const attempt = await this.deps.throttle.beginPasswordCheck({ email, ip: client.ip });
    /** How far the attempt got: only a judged wrong password may keep its throttle point. */
    let judged: 'not yet' | 'wrong' | 'right and recorded' = 'not yet';
    try {
      const user = await findCredentials(this.deps.db, email);
      // Verify against a dummy hash when there is no such user, so both failures take the same time.
      const valid = await verifyPassword(user?.passwordHash ?? (await this.#dummyHash.get()), password);
      if (!user || !valid) {
        judged = 'wrong';
        await recordAuthEvent(this.deps.db, { type: 'LOGIN_FAILED', userId: user?.id ?? null, client, at: this.deps.clock() });
        throw new AuthError('INVALID_CREDENTIALS');
      }
      await attempt.succeeded();
      judged = 'right and recorded';
      if (needsRehash(user.passwordHash)) {
        await updatePasswordHash(this.deps.db, user.id, await hashPassword(password));
      }
      return await this.#startSession(user, deviceName, client, 'LOGIN_SUCCEEDED');
    } catch (error) {
      // The database failed before the password was judged, or before a right one was recorded: an
      // outage is no failed attempt, and must not lock the account out once the database is back.
      if (judged === 'not yet') await attempt.abandoned().catch(() => {});
      throw error;
    }
  }

  /**
   * Checks the current password (throttled like login), stores the new one, ends every other session
   * of the user (PASSWORD_CHANGED) and rotates the caller's: its refresh token is spent, a successor issued.
   */
  async changePassword(
    viewer: Viewer,
    input: { currentPassword: string; newPassword: string },
    client: ClientInfo,
  ): Promise<IssuedTokens> {
    const current = normalisePresentedPassword(input.currentPassword, 'currentPassword');
    const next = await normaliseNewPassword(input.newPassword, 'newPassword');
    const user = await findCredentialsById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    const attempt = await this.deps.throttle.beginPasswordCheck({ email: user.email, ip: client.ip });
    if (!(await verifyPassword(user.passwordHash, current))) {
      // A wrong current password is a failed sign-in as much as one at login: the owner should see it.
      await recordAuthEvent(this.deps.db, {
        type: 'LOGIN_FAILED',
        userId: user.id,
        sessionId: viewer.sessionId,
        client,
        at: this.deps.clock(),
      });
      throw new AuthError('INVALID_CREDENTIALS');
    }
    await attempt.succeeded();
    const passwordHash = await hashPassword(next);
    const restarted = await this.deps.sessions.restartAfterPasswordChange({
      userId: user.id,
      sessionId: viewer.sessionId,
      alsoIn: async (tx) => {
        await updatePasswordHash(tx, user.id, passwordHash);
        await recordAuthEvent(tx, {
          type: 'PASSWORD_CHANGED',
          userId: user.id,
          sessionId: viewer.sessionId,
          client,
          at: this.deps.clock(),
        });
      },
    });
    // The caller's session ended meanwhile: nothing was changed.
    if (!restarted) throw new AuthError('SESSION_REVOKED');
    return this.#issue(user, restarted.session, restarted.refreshToken);
  }

  async refresh(refreshToken: string | null | undefined, client: ClientInfo): Promise<IssuedTokens> {
    if (!refreshToken) throw new AuthError('INVALID_REFRESH_TOKEN', 'A refresh token is required.');
    const result = await this.deps.sessions.rotateRefreshToken(refreshToken, client);
    switch (result.kind) {
      case 'invalid':
        throw new AuthError('INVALID_REFRESH_TOKEN');
      case 'reused':
        throw new AuthError('REFRESH_TOKEN_REUSED');
      case 'just-rotated':
        throw new AuthError('REFRESH_TOKEN_ROTATED');
      case 'rotated':
        return this.#issue(result.user, result.session, result.refreshToken);
    }
  }

  /**
   * Ends the caller's session: the one of the access token, and the one of the refresh token when it
   * is another (a browser whose cookie a second tab replaced: the caller gives that token up, and a
   * session nobody holds a token of must not live on unseen). Idempotent: an ended session is logged out.
   */
  async logout(auth: Authentication, refreshToken: string | null | undefined, client?: ClientInfo): Promise<boolean> {
    if (auth.kind === 'signed-in') {
      const { userId, sessionId } = auth.viewer;
      try {
        await this.deps.sessions.endSessions({ userId, sessionIds: [sessionId] }, 'LOGOUT', client);
      } catch (error) {
        if (isDatabaseUnavailable(error)) this.#logoutLater(auth.viewer, client);
        throw error;
      }
      // The refresh token's session too, if another and still live: holding its token is enough.
      if (refreshToken) await this.endSessionOfRefreshToken(refreshToken, client);
      return true;
    }
    if (auth.kind === 'refused' && auth.claimed) {
      // Whether the session has ended could not be read (the usual case in an outage on PostgreSQL,
      // whose lost LISTEN connection sends every token check to the database): its end cannot be
      // written either. Ending a session of a valid token of it is safe even if it has ended already.
      this.#logoutLater(auth.claimed, client);
      throw new AuthError('SERVICE_UNAVAILABLE');
    }
    if (auth.kind === 'refused' && auth.code === 'SESSION_REVOKED' && !refreshToken) return true;
    if (refreshToken) {
      const session = await this.deps.sessions.findSessionOfRefreshToken(refreshToken);
      if (!session) throw new AuthError('INVALID_REFRESH_TOKEN');
      await this.deps.sessions.endSessions({ userId: session.userId, sessionIds: [session.id] }, 'LOGOUT', client);
      return true;
    }
    throw new AuthError(auth.kind === 'refused' ? auth.code : 'UNAUTHENTICATED');
  }

  /**
   * The caller may believe itself logged out (a page clears its cookie whatever the answer): this
   * instance refuses the session at once and ends it for good once the database is back. The answer
   * stays SERVICE_UNAVAILABLE: the end is neither durable nor known to other instances yet.
   */
  #logoutLater(viewer: Viewer, client: ClientInfo | undefined): void {
    this.deps.pendingEnds.endLater({ userId: viewer.userId, sessionId: viewer.sessionId, reason: 'LOGOUT', client });
  }

  /** Ends the session of a refresh token (spent or not) if it is live: holding the token is enough. */
  async endSessionOfRefreshToken(refreshToken: string, client?: ClientInfo): Promise<void> {
    const session = await this.deps.sessions.findSessionOfRefreshToken(refreshToken);
    if (!session || session.endedAt) return;
    await this.deps.sessions.endSessions({ userId: session.userId, sessionIds: [session.id] }, 'LOGOUT', client);
  }

  /** Ends one of the caller's sessions; another user's or an unknown id is NOT_FOUND. */
  async revokeDevice(viewer: Viewer, sessionId: string, client?: ClientInfo): Promise<boolean> {
    const session = isUuid(sessionId) ? await this.deps.sessions.findSession(sessionId) : null;
    if (!session || session.userId !== viewer.userId) throw new AuthError('NOT_FOUND', 'No such session.');
    await this.deps.sessions.endSessions(
      { userId: viewer.userId, sessionIds: [session.id] },
      'REVOKED_BY_USER',
      client,
    );
    return true;
  }

  async revokeOtherSessions(viewer: Viewer, client?: ClientInfo): Promise<number> {
    const ended = await this.deps.sessions.endSessions(
      { userId: viewer.userId, exceptSessionId: viewer.sessionId },
      'OTHER_SESSIONS_REVOKED',
      client,
    );
    // Nothing ended because the caller's own session had ended meanwhile: say so rather than "0".
    if (ended.length === 0 && (await this.deps.sessions.findSession(viewer.sessionId))?.endedAt != null) {
      throw new AuthError('SESSION_REVOKED');
    }
    return ended.length;
  }

  /**
   * The signed-in user's id comes from the verified token: `me { id }` costs no query. A deleted
   * account is no exception: deleting its row deletes its sessions, which the database announces
   * as revocations (drizzle/0005_announce_deleted_sessions.sql), so its token is refused already.
   */
  me(viewer: Viewer): UserReference {
    return { id: viewer.userId };
  }

  /**
   * A user by id, for the fields a token does not carry; fields and aliases resolved together are
   * read together. A missing account is SESSION_REVOKED.
   */
  findUser(id: string): Promise<User> {
    return this.#usersById.load(id);
  }

  async mySessions(viewer: Viewer): Promise<SessionView[]> {
    const sessions = await this.deps.sessions.listLiveSessions(viewer.userId);
    return sessions.map((session) => this.#view(session, viewer.sessionId));
  }

  /** The caller's audit log, newest first: where and how the account was used. */
  async myAuthEvents(viewer: Viewer, first: number): Promise<AuthEvent[]> {
    if (!Number.isInteger(first) || first < 1 || first > AUTH_EVENTS_MAX_PAGE) {
      throw badInput('first', `first must be between 1 and ${AUTH_EVENTS_MAX_PAGE}.`);
    }
    return listAuthEvents(this.deps.db, viewer.userId, first);
  }

  async #startSession(
    user: User,
    deviceName: string | null,
    client: ClientInfo,
    cause: 'SIGNED_UP' | 'LOGIN_SUCCEEDED',
  ): Promise<IssuedTokens> {
    const { session, refreshToken } = await this.deps.sessions.createSession({
      userId: user.id,
      deviceName,
      client,
      cause,
    });
    return this.#issue(user, session, refreshToken);
  }

  async #issue(user: User, session: SessionRecord, refreshToken: string): Promise<IssuedTokens> {
    const end = this.deps.sessions.endOf(session);
    const access = await this.deps.accessTokens.issue({ userId: user.id, sessionId: session.id, notAfter: end });
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: end,
      user: { id: user.id, email: user.email, createdAt: user.createdAt },
      session: this.#view(session, session.id),
    };
  }

  #view(session: SessionRecord, currentSessionId: string): SessionView {
    return {
      id: session.id,
      current: session.id === currentSessionId,
      deviceName: session.deviceName,
      userAgent: session.userAgent,
      ip: session.ip,
      createdAt: session.createdAt,
      lastUsedAt: session.lastUsedAt,
      expiresAt: this.deps.sessions.endOf(session),
    };
  }
}

/** Control characters (NUL, newlines, escapes) have no place in a name shown in a device list or a log. */
const CONTROL_CHARACTER = /\p{Cc}/u;

function checkDeviceName(raw: string | null | undefined): string | null {
  // Refused unread past four times the limit: neither trimmed nor spread into code points.
  if (raw && raw.length > DEVICE_NAME_MAX_LENGTH * 4) {
    throw badInput('deviceName', `The device name must be at most ${DEVICE_NAME_MAX_LENGTH} characters long.`);
  }
  if (raw && (CONTROL_CHARACTER.test(raw) || !isWellFormed(raw))) {
    throw badInput('deviceName', 'The device name must be text without control characters.');
  }
  const deviceName = raw?.trim() || null;
  if (deviceName && [...deviceName].length > DEVICE_NAME_MAX_LENGTH) {
    throw badInput('deviceName', `The device name must be at most ${DEVICE_NAME_MAX_LENGTH} characters long.`);
  }
  return deviceName;
}
