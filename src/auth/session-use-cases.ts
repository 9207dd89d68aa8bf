import { isDatabaseUnavailable } from '../db/errors.js';
import { AuthError } from '../errors.js';
import type { Authentication, Viewer } from './authentication.js';
import { isUuid } from './crypto.js';
import type { IssuedTokens, SessionView, TokenIssuer } from './issued-tokens.js';
import type { PendingEnds } from './pending-ends.js';
import { reported, type AuthOutcomes } from './outcomes.js';
import type { ClientInfo, RotationResult, SessionLifecycle } from './sessions.js';

/** Refresh, logout and the device list: what a signed-in client does with its sessions. */
export class SessionUseCases {
  constructor(
    private readonly deps: { sessions: SessionLifecycle; tokens: TokenIssuer; pendingEnds: PendingEnds; outcomes?: AuthOutcomes },
  ) {}

  async refresh(refreshToken: string | null | undefined, client: ClientInfo): Promise<IssuedTokens> {
    let grace = false;
    const report = (outcome: string) => this.deps.outcomes?.refresh(grace && outcome === 'success' ? 'grace' : outcome);
    return reported(report, async () => {
      if (!refreshToken) throw new AuthError('INVALID_REFRESH_TOKEN', 'A refresh token is required.');
      const result = await this.deps.sessions.rotate(refreshToken, client);
      grace = result.kind === 'rotated' && result.again === true;
      return this.#answer(result, refreshToken);
    });
  }

  async #answer(result: RotationResult, refreshToken: string): Promise<IssuedTokens> {
    switch (result.kind) {
      case 'invalid':
        throw new AuthError((await this.deps.sessions.isOfDisabledUser(refreshToken)) ? 'ACCOUNT_DISABLED' : 'INVALID_REFRESH_TOKEN');
      case 'reused':
        throw new AuthError('REFRESH_TOKEN_REUSED');
      case 'just-rotated':
        throw new AuthError('REFRESH_TOKEN_ROTATED');
      case 'rotated':
        return this.deps.tokens.issue(result.user, result.session, result.refreshToken);
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
        await this.deps.sessions.end({ userId, sessionIds: [sessionId] }, 'LOGOUT', client);
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
      await this.deps.sessions.end({ userId: session.userId, sessionIds: [session.id] }, 'LOGOUT', client);
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
    await this.deps.sessions.end({ userId: session.userId, sessionIds: [session.id] }, 'LOGOUT', client);
  }

  /** Ends one of the caller's sessions; another user's or an unknown id is NOT_FOUND. */
  async revokeDevice(viewer: Viewer, sessionId: string, client?: ClientInfo): Promise<boolean> {
    const session = isUuid(sessionId) ? await this.deps.sessions.findSession(sessionId) : null;
    if (!session || session.userId !== viewer.userId) throw new AuthError('NOT_FOUND', 'No such session.');
    await this.deps.sessions.end({ userId: viewer.userId, sessionIds: [session.id] }, 'REVOKED_BY_USER', client);
    return true;
  }

  async revokeOtherSessions(viewer: Viewer, client?: ClientInfo): Promise<number> {
    const ended = await this.deps.sessions.end(
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

  /** The caller's live sessions, most recently used first. */
  async mySessions(viewer: Viewer): Promise<SessionView[]> {
    const sessions = await this.deps.sessions.listLive(viewer.userId);
    return sessions.map((session) => this.deps.tokens.view(session, viewer.sessionId));
  }
}
