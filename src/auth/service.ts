import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { AuthError, badInput } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import { isUuid } from './crypto.js';
import { DummyPasswordHash, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { RevocationSet } from './revocations.js';
import type { ClientInfo, SessionRecord, SessionService } from './sessions.js';
import {
  findCredentials,
  findUserById,
  insertUser,
  normaliseEmail,
  normalisePassword,
  PASSWORD_MAX_LENGTH,
  updatePasswordHash,
  type User,
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

/** The session layer's use cases; knows nothing of GraphQL or HTTP. */
export class AuthService {
  readonly #dummyHash = new DummyPasswordHash();

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      sessions: SessionService;
      accessTokens: AccessTokens;
      revocations: RevocationSet;
    },
  ) {}

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
    if (ended === 'unknown') return { kind: 'refused', code: 'SERVICE_UNAVAILABLE' };
    if (ended) return { kind: 'refused', code: 'SESSION_REVOKED' };
    return { kind: 'signed-in', viewer: { userId, sessionId, tokenExpiresAt: expiresAt } };
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
    const email = normaliseEmail(input.email);
    const password = normalisePassword(input.password);
    const deviceName = checkDeviceName(input.deviceName);
    const user = await insertUser(this.deps.db, this.deps.clock, { email, passwordHash: await hashPassword(password) });
    if (!user) throw new AuthError('EMAIL_TAKEN');
    return this.#startSession(user, deviceName, client);
  }

  async login(input: Credentials, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const password = input.password.normalize('NFKC');
    if ([...password].length > PASSWORD_MAX_LENGTH) {
      throw badInput('password', `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`);
    }
    const email = normaliseEmail(input.email);
    const user = await findCredentials(this.deps.db, email);
    // Verify against a dummy hash when there is no such user, so both failures take the same time.
    const valid = await verifyPassword(user?.passwordHash ?? (await this.#dummyHash.get()), password);
    if (!user || !valid) throw new AuthError('INVALID_CREDENTIALS');
    if (needsRehash(user.passwordHash)) {
      await updatePasswordHash(this.deps.db, user.id, await hashPassword(password));
    }
    return this.#startSession(user, deviceName, client);
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
      case 'rotated': {
        const user = await findUserById(this.deps.db, result.session.userId);
        if (!user) throw new AuthError('INVALID_REFRESH_TOKEN');
        return this.#issue(user, result.session, result.refreshToken);
      }
    }
  }

  /**
   * Ends the caller's session: the one of the access token, else the one of the refresh token.
   * Idempotent: a session that already ended is logged out.
   */
  async logout(auth: Authentication, refreshToken: string | null | undefined): Promise<boolean> {
    if (auth.kind === 'signed-in') {
      await this.deps.sessions.endSessions(
        { userId: auth.viewer.userId, sessionIds: [auth.viewer.sessionId] },
        'LOGOUT',
      );
      return true;
    }
    if (auth.kind === 'refused' && auth.code === 'SESSION_REVOKED' && !refreshToken) return true;
    if (refreshToken) {
      const session = await this.deps.sessions.findSessionOfRefreshToken(refreshToken);
      if (!session) throw new AuthError('INVALID_REFRESH_TOKEN');
      await this.deps.sessions.endSessions({ userId: session.userId, sessionIds: [session.id] }, 'LOGOUT');
      return true;
    }
    throw new AuthError(auth.kind === 'refused' ? auth.code : 'UNAUTHENTICATED');
  }

  /** Ends one of the caller's sessions; another user's or an unknown id is NOT_FOUND. */
  async revokeDevice(viewer: Viewer, sessionId: string): Promise<boolean> {
    const session = isUuid(sessionId) ? await this.deps.sessions.findSession(sessionId) : null;
    if (!session || session.userId !== viewer.userId) throw new AuthError('NOT_FOUND', 'No such session.');
    await this.deps.sessions.endSessions({ userId: viewer.userId, sessionIds: [session.id] }, 'REVOKED_BY_USER');
    return true;
  }

  async revokeOtherSessions(viewer: Viewer): Promise<number> {
    const ended = await this.deps.sessions.endSessions(
      { userId: viewer.userId, exceptSessionId: viewer.sessionId },
      'OTHER_SESSIONS_REVOKED',
    );
    return ended.length;
  }

  async me(viewer: Viewer): Promise<User> {
    const user = await findUserById(this.deps.db, viewer.userId);
    // The account is gone, and its sessions with it.
    if (!user) throw new AuthError('SESSION_REVOKED');
    return user;
  }

  async mySessions(viewer: Viewer): Promise<SessionView[]> {
    const sessions = await this.deps.sessions.listLiveSessions(viewer.userId);
    return sessions.map((session) => this.#view(session, viewer.sessionId));
  }

  async #startSession(user: User, deviceName: string | null, client: ClientInfo): Promise<IssuedTokens> {
    const { session, refreshToken } = await this.deps.sessions.createSession({ userId: user.id, deviceName, client });
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

function checkDeviceName(raw: string | null | undefined): string | null {
  const deviceName = raw?.trim() || null;
  if (deviceName && [...deviceName].length > DEVICE_NAME_MAX_LENGTH) {
    throw badInput('deviceName', `The device name must be at most ${DEVICE_NAME_MAX_LENGTH} characters long.`);
  }
  return deviceName;
}
