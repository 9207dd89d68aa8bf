import type { Clock } from '../clock.js';
import type { Database, Transaction } from '../db/client.js';
import type { LiveWindow } from '../db/live-window.js';
import { restampSession } from '../db/session-reauthentication.js';
import type { SessionRecord, SessionSelection, SessionStore } from '../db/session-store.js';
import type { RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import { AuthError } from '../errors.js';
import { isUuid, sha256Hex } from './crypto.js';
import { isWellFormedRefreshToken, newRefreshToken } from './refresh-tokens.js';
import { openSuccessor, sealSuccessor } from './sealed-successor.js';
import { findUserById, type User } from './users.js';

export type { SessionRecord, SessionSelection };

/** Durations in seconds. */
export interface SessionPolicy {
  readonly refreshTokenTtl: number;
  readonly sessionIdleTimeout: number;
  readonly refreshReuseGrace: number;
  /** A new session beyond this many live ones ends the least recently used (reason SESSION_LIMIT). */
  readonly maxSessionsPerUser: number;
}

export interface ClientInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** A session that just started or was rotated, with the only copy of its new refresh token. */
export interface StartedSession {
  readonly session: SessionRecord;
  readonly refreshToken: string;
}

export type RotationResult =
  /**
   * Spent and succeeded; or spent within the grace window while its successor was never used (a lost
   * response): then `refreshToken` is that same successor, opened from its sealed copy.
   */
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly user: User; readonly refreshToken: string }
  /** Unknown, malformed, or of an ended or expired session. */
  | { readonly kind: 'invalid' }
  /** Spent token presented outside the grace window: theft. The session has been ended. */
  | { readonly kind: 'reused' }
  /**
   * Spent within the grace window, its successor already used and now the predecessor of the live
   * token: another tab (or a retry) moved on; or unused but with no sealed copy (changePassword's).
   * Nothing is revoked; the client must use what it got since.
   */
  | { readonly kind: 'just-rotated' };

export type RestartResult = ({ readonly kind: 'restarted' } & StartedSession) | { readonly kind: 'session-ended' };

const USER_AGENT_MAX_LENGTH = 512;

/** Which sessions are live at `now`, for the store's statements: a session idle this long has ended. */
export function liveWindow(policy: Pick<SessionPolicy, 'sessionIdleTimeout'>, now: Date): LiveWindow {
  return { now, idleHorizon: new Date(now.getTime() - policy.sessionIdleTimeout * 1000) };
}

/**
 * The session lifecycle: create, rotate, end, expire. Decides (how long a session lives, the grace
 * window, what counts as reuse, the session limit); the store writes.
 */
export class SessionLifecycle {
  constructor(private readonly deps: { db: Database; store: SessionStore; clock: Clock; policy: SessionPolicy }) {}

  /** When the session ends unless refreshed: the absolute end or the idle end, whichever is first. */
  endOf(session: Pick<SessionRecord, 'expiresAt' | 'lastUsedAt'>): Date {
    const idleEnd = session.lastUsedAt.getTime() + this.deps.policy.sessionIdleTimeout * 1000;
    return new Date(Math.min(session.expiresAt.getTime(), idleEnd));
  }

  isLive(session: SessionRecord, now: Date): boolean {
    return session.endedAt === null && this.endOf(session).getTime() > now.getTime();
  }

  window(): LiveWindow {
    return liveWindow(this.deps.policy, this.deps.clock());
  }

  /**
   * Every login gets a new session id (no fixation) and the first token of a new family. Beyond
   * MAX_SESSIONS_PER_USER live sessions, the least recently used end (reason SESSION_LIMIT).
   */
  async create(input: {
    userId: string;
    deviceName: string | null;
    client: ClientInfo;
    cause: 'SIGNED_UP' | 'LOGIN_SUCCEEDED';
    /** The users.password_version the login checked the password against; null at sign-up. */
    passwordVersion: number | null;
    /** RFC 8176 amr values of the proof that starts the session; ['pwd'] unless said. */
    authenticationMethods?: readonly string[];
    alsoIn?: (tx: Transaction) => Promise<void>;
  }): Promise<StartedSession> {
    const window = this.window();
    const { token, hash } = newRefreshToken();
    const session = await this.deps.store.create(
      {
        userId: input.userId,
        deviceName: input.deviceName,
        userAgent: truncate(input.client.userAgent),
        ip: input.client.ip,
        expiresAt: new Date(window.now.getTime() + this.deps.policy.refreshTokenTtl * 1000),
        tokenHash: hash,
        cause: input.cause,
        maxLive: this.deps.policy.maxSessionsPerUser,
        passwordVersion: input.passwordVersion,
        authenticationMethods: input.authenticationMethods ?? ['pwd'],
        alsoIn: input.alsoIn,
      },
      window,
    );
    // The password was changed while it was being checked: it is no longer the user's password.
    if (!session) throw new AuthError('INVALID_CREDENTIALS');
    return { session, refreshToken: token };
  }

  /**
   * Spends the token and issues its successor, stored with a copy sealed for the token's holder. Only
   * when nothing was rotated is the token looked at again, to tell why; nothing is written on the way
   * but the end of a session whose spent token came back as theft, which commits although the request fails.
   */
  async rotate(token: string, client: ClientInfo): Promise<RotationResult> {
    if (!isWellFormedRefreshToken(token)) return { kind: 'invalid' };
    const successor = newRefreshToken();
    const tokenHash = sha256Hex(token);
    const rotated = await this.deps.store.rotate({
      tokenHash,
      successorHash: successor.hash,
      sealedSuccessor: sealSuccessor(token, successor.token),
      userAgent: truncate(client.userAgent),
      ip: client.ip,
    });
    if (rotated) return { kind: 'rotated', ...rotated, refreshToken: successor.token };
    return this.#notRotated(token, tokenHash, client);
  }

  /**
   * A token that was not rotated: unknown or of an ended session; a retry inside the grace window
   * (its successor again, or just-rotated once that was used); else theft, which ends the session.
   */
  async #notRotated(token: string, tokenHash: string, client: ClientInfo): Promise<RotationResult> {
    const now = this.deps.clock();
    const presented = await this.deps.store.findTokenWithSession(tokenHash);
    // Unknown; or of a session that has ended (a spent token then proves nothing more); or unspent
    // but not rotatable, which only a session ending at this very moment explains.
    if (!presented || !this.isLive(presented.session, now) || presented.spentAt === null) return { kind: 'invalid' };
    const graceStart = now.getTime() - this.deps.policy.refreshReuseGrace * 1000;
    const { session, successor } = presented;
    if (presented.spentAt.getTime() > graceStart && successor.kind === 'unused') {
      // A successor issued without a sealed copy (by changePassword) cannot be handed out again.
      const again = successor.sealed === null ? null : openSuccessor(token, successor.sealed);
      const user = again === null ? null : await findUserById(this.deps.db, session.userId);
      return again !== null && user ? { kind: 'rotated', session, user, refreshToken: again } : { kind: 'just-rotated' };
    }
    if (presented.spentAt.getTime() > graceStart && successor.kind === 'used-once') return { kind: 'just-rotated' };
    const { userId, id: sessionId } = session;
    const ended = await this.deps.store.endForReuse({ userId, sessionId }, client, now);
    // Someone else ended it in the meantime: then this token is merely one of an ended session.
    return ended ? { kind: 'reused' } : { kind: 'invalid' };
  }

  /**
   * After a password change, in one transaction: `alsoIn` (which stores the new hash), every other
   * session of the user ended (PASSWORD_CHANGED), and this one rotated.
   */
  async restartAfterPasswordChange(input: {
    userId: string;
    sessionId: string;
    alsoIn: (tx: Transaction) => Promise<void>;
  }): Promise<RestartResult> {
    const successor = newRefreshToken();
    const session = await this.deps.store.restart({ ...input, successorHash: successor.hash }, this.window());
    return session ? { kind: 'restarted', session, refreshToken: successor.token } : { kind: 'session-ended' };
  }

  /**
   * A fresh proof in a live session: it records the methods and the time (auth_time), and its refresh
   * token is rotated so that the caller holds tokens that say so. Null when the session has ended.
   */
  async reauthenticate(input: {
    userId: string;
    sessionId: string;
    authenticationMethods: readonly string[];
  }): Promise<StartedSession | null> {
    const successor = newRefreshToken();
    const session = await restampSession(this.deps.db, { ...input, successorHash: successor.hash }, this.window());
    return session ? { session, refreshToken: successor.token } : null;
  }

  /**
   * Ends the selected live sessions of one user and tells every instance. `client`: who asked, for
   * the audit log. An id that is not a uuid matches no session, and is left out before it costs a query.
   */
  end(selection: SessionSelection, reason: RevocationReason, client?: ClientInfo): Promise<SessionRevoked[]> {
    if (!isUuid(selection.userId) || (selection.exceptSessionId && !isUuid(selection.exceptSessionId))) {
      return Promise.resolve([]);
    }
    const sessionIds = selection.sessionIds?.filter(isUuid);
    return this.deps.store.end({ ...selection, ...(sessionIds ? { sessionIds } : {}) }, reason, client);
  }

  /** In one transaction: `alsoIn` (which names the user or throws), then every live session of the user ended. */
  endAllAlong(
    reason: RevocationReason,
    alsoIn: (tx: Transaction) => Promise<string>,
    client?: ClientInfo,
  ): Promise<SessionRevoked[]> {
    return this.deps.store.endAllAlong(reason, alsoIn, client);
  }

  /** Marks sessions past their idle or absolute end as ended (EXPIRED); one instance at a time. */
  expire(): Promise<SessionRevoked[]> {
    return this.deps.store.endExpired();
  }

  findSession(sessionId: string): Promise<SessionRecord | null> {
    return this.deps.store.findSession(sessionId);
  }

  /** The session a refresh token (spent or not) belongs to. */
  async findSessionOfRefreshToken(token: string): Promise<SessionRecord | null> {
    return isWellFormedRefreshToken(token) ? this.deps.store.findSessionOfToken(sha256Hex(token)) : null;
  }

  /** The user's live sessions, most recently used first. */
  listLive(userId: string): Promise<SessionRecord[]> {
    return this.deps.store.listLive(userId, this.window());
  }
}

function truncate(userAgent: string | null): string | null {
  return userAgent === null ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH);
}
