import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { AuthError, badInput } from '../../errors.js';
import type { Viewer } from '../authentication.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import { verifyPassword } from '../passwords.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import { findCredentialsById, normalisePresentedPassword } from '../users.js';
import type { CodeCheck } from './code-check.js';
import { amrOf, factorStateOf, hasSecondFactor, type AuthenticationMethod } from './methods.js';

export interface ReauthenticationProof {
  readonly password?: string | null | undefined;
  readonly code?: string | null | undefined;
}

/**
 * A fresh proof in the caller's own session (step-up): the password, plus a second-factor code
 * where the user has one. The session records it (auth_time, amr) and its tokens are rotated, so
 * the caller holds an access token that says so. The passkey variant joins here.
 */
export class Reauthentication {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      sessions: SessionLifecycle;
      tokens: TokenIssuer;
      throttle: Throttle;
      codes: CodeCheck;
    },
  ) {}

  async reauthenticate(viewer: Viewer, proof: ReauthenticationProof, client: ClientInfo): Promise<IssuedTokens> {
    if (proof.password == null) throw badInput('password', 'The password is required.');
    const password = normalisePresentedPassword(proof.password);
    const user = await findCredentialsById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    const event = { userId: user.id, sessionId: viewer.sessionId, client };
    // Throttled like login: a stolen access token must not become a password oracle.
    const attempt = await this.deps.throttle.beginPasswordCheck({ email: user.email, ip: client.ip });
    if (!(await verifyPassword(user.passwordHash, password))) {
      await recordAuthEvent(this.deps.db, { type: 'LOGIN_FAILED', ...event, at: this.deps.clock() });
      throw new AuthError('INVALID_CREDENTIALS');
    }
    await attempt.succeeded();
    const factors: AuthenticationMethod[] = ['pwd'];
    if (hasSecondFactor(await factorStateOf(this.deps.db, user.id))) {
      if (!proof.code) throw new AuthError('INVALID_MFA_CODE', 'An authentication code is required: this account has a second factor.');
      await this.deps.codes.verify(user, proof.code, { client, sessionId: viewer.sessionId });
      factors.push('otp');
    }
    const restamped = await this.deps.sessions.reauthenticate({
      userId: user.id,
      sessionId: viewer.sessionId,
      authenticationMethods: amrOf(factors),
    });
    if (!restamped) throw new AuthError('SESSION_REVOKED');
    await recordAuthEvent(this.deps.db, { type: 'REAUTHENTICATED', ...event, at: this.deps.clock() });
    return this.deps.tokens.issue(user, restamped.session, restamped.refreshToken);
  }
}
