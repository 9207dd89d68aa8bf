import type { AccessTokens } from './access-tokens.js';
import type { SessionLifecycle, SessionRecord } from './sessions.js';
import type { User } from './users.js';

/** A session as its owner sees it in a device list. */
export interface SessionView {
  readonly id: string;
  readonly current: boolean;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  readonly expiresAt: Date;
  /** RFC 8176 amr values of the session's last proof. */
  readonly authenticationMethods: readonly string[];
}

export interface IssuedTokens {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: Date;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: Date;
  readonly user: User;
  readonly session: SessionView;
}

/** What a started or rotated session hands its client: an access token beside the refresh token. */
export class TokenIssuer {
  constructor(private readonly deps: { accessTokens: AccessTokens; sessions: SessionLifecycle }) {}

  async issue(user: User, session: SessionRecord, refreshToken: string): Promise<IssuedTokens> {
    const end = this.deps.sessions.endOf(session);
    const access = await this.deps.accessTokens.issue({
      userId: user.id,
      sessionId: session.id,
      notAfter: end,
      authTime: session.authenticatedAt ?? session.createdAt,
      amr: session.authenticationMethods,
    });
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: end,
      user: { id: user.id, email: user.email, createdAt: user.createdAt },
      session: this.view(session, session.id),
    };
  }

  view(session: SessionRecord, currentSessionId: string): SessionView {
    return {
      id: session.id,
      current: session.id === currentSessionId,
      deviceName: session.deviceName,
      userAgent: session.userAgent,
      ip: session.ip,
      createdAt: session.createdAt,
      lastUsedAt: session.lastUsedAt,
      expiresAt: this.deps.sessions.endOf(session),
      authenticationMethods: session.authenticationMethods,
    };
  }
}
