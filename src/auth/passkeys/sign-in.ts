import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import type { Viewer } from '../authentication.js';
import { checkDeviceName } from '../device-name.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import { findMfaToken, takeMfaToken, type DeliveryChoice } from '../second-factors/mfa-tokens.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import { findUserById } from '../users.js';
import type { PasskeyAssertions, StartedAssertion } from './assertion.js';

/** A passkey sign-in: its tokens and, for a second step, the delivery the first step asked for. */
export interface PasskeySignInResult {
  readonly tokens: IssuedTokens;
  /** Null for a passwordless sign-in: the caller's own `delivery` argument applies. */
  readonly delivery: DeliveryChoice | null;
}

/**
 * Signing in with a passkey: passwordless (a discoverable credential, no email typed; amr hwk), or
 * as the second step of a first step that answered MFA_REQUIRED (amr pwd hwk mfa); and the passkey
 * proof of reauthenticate.
 */
export class PasskeySignIn {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      assertions: PasskeyAssertions;
      gate: SignInGate;
      sessions: SessionLifecycle;
      tokens: TokenIssuer;
    },
  ) {}

  /** With an mfaToken: only its user's passkeys may answer, and the token is spent when one does. */
  async start(mfaToken: string | null | undefined): Promise<StartedAssertion> {
    if (mfaToken == null) return this.deps.assertions.start({ purpose: 'SIGN_IN' });
    const pending = await findMfaToken(this.deps.db, this.deps.clock, mfaToken);
    if (!pending) throw new AuthError('INVALID_MFA_TOKEN');
    return this.deps.assertions.start({ purpose: 'SECOND_STEP', userId: pending.userId, mfaTokenId: pending.id });
  }

  async signIn(
    input: { challengeId: string; response?: unknown; deviceName?: string | null },
    client: ClientInfo,
  ): Promise<PasskeySignInResult> {
    const deviceName = checkDeviceName(input.deviceName);
    const { passkey, challenge } = await this.deps.assertions.verify(
      { challengeId: input.challengeId, response: input.response, field: 'response', purposes: ['SIGN_IN', 'SECOND_STEP'] },
      client,
    );
    const user = await findUserById(this.deps.db, passkey.userId);
    if (!user) throw new AuthError('PASSKEY_REJECTED');
    await recordAuthEvent(this.deps.db, { type: 'PASSKEY_USED', userId: user.id, client, at: this.deps.clock() });
    if (challenge.mfaTokenId === null) {
      // Passwordless: a passkey with user verification is two factors in one device, and is a sign-in of its own.
      const tokens = await this.deps.gate.startSession(user, { factors: ['hwk'], deviceName, passwordVersion: null, client });
      return { tokens, delivery: null };
    }
    // The second step: the session is the first step's (its device name, delivery and password version).
    const pending = await takeMfaToken(this.deps.db, this.deps.clock, challenge.mfaTokenId);
    if (!pending || pending.userId !== user.id) throw new AuthError('INVALID_MFA_TOKEN');
    const tokens = await this.deps.gate.startSession(user, {
      factors: [pending.firstFactor, 'hwk'],
      deviceName: pending.deviceName,
      passwordVersion: pending.passwordVersion,
      client,
    });
    return { tokens, delivery: pending.delivery };
  }

  /**
   * reauthenticate with a passkey: a challenge from startPasskeySignIn() (no mfaToken) answered by one
   * of the caller's own passkeys. A passkey with user verification is proof enough on its own, even
   * for an account with TOTP. The session is restamped (auth_time, amr hwk) and its tokens rotated.
   */
  async reauthenticate(
    viewer: Viewer,
    input: { challengeId: string; passkeyResponse?: unknown },
    client: ClientInfo,
  ): Promise<IssuedTokens> {
    const { passkey } = await this.deps.assertions.verify(
      { challengeId: input.challengeId, response: input.passkeyResponse, field: 'passkeyResponse', purposes: ['SIGN_IN'] },
      client,
      viewer.sessionId,
    );
    const event = { userId: viewer.userId, sessionId: viewer.sessionId, client };
    if (passkey.userId !== viewer.userId) {
      await recordAuthEvent(this.deps.db, { type: 'PASSKEY_FAILED', ...event, at: this.deps.clock() });
      throw new AuthError('PASSKEY_REJECTED');
    }
    const user = await findUserById(this.deps.db, viewer.userId);
    const restamped =
      user &&
      (await this.deps.sessions.reauthenticate({ userId: user.id, sessionId: viewer.sessionId, authenticationMethods: ['hwk'] }));
    if (!user || !restamped) throw new AuthError('SESSION_REVOKED');
    await recordAuthEvent(this.deps.db, { type: 'PASSKEY_USED', ...event, at: this.deps.clock() });
    await recordAuthEvent(this.deps.db, { type: 'REAUTHENTICATED', ...event, at: this.deps.clock() });
    return this.deps.tokens.issue(user, restamped.session, restamped.refreshToken);
  }
}
