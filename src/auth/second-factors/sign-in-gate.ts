import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { User } from '../users.js';
import { amrOf, secondFactorsOf, type AuthenticationMethod } from './methods.js';
import { issueMfaToken, type DeliveryChoice } from './mfa-tokens.js';

/** A first step that verified: whom it proved, how, and what the session it starts should be. */
export interface VerifiedFirstStep {
  readonly user: User;
  readonly factor: AuthenticationMethod;
  readonly deviceName: string | null;
  readonly delivery: DeliveryChoice;
  /** The password version the step checked (or set); null when it checked none. */
  readonly passwordVersion: number | null;
  readonly client: ClientInfo;
}

/**
 * The one place a verified first step becomes a session: at once for a user without a second
 * factor; otherwise MFA_REQUIRED with an `mfaToken` bound to the account and to the step's device
 * name and delivery, which completeLogin (or a passkey) redeems. Every first step that would sign
 * in (login, a password reset, a code by mail) goes through `signIn`, so none bypasses the second.
 */
export class SignInGate {
  constructor(
    private readonly deps: { db: Database; clock: Clock; sessions: SessionLifecycle; tokens: TokenIssuer },
  ) {}

  async signIn(step: VerifiedFirstStep): Promise<IssuedTokens> {
    const methods = await secondFactorsOf(this.deps.db, step.user.id);
    if (methods.length > 0) {
      const mfaToken = await issueMfaToken(this.deps.db, this.deps.clock, {
        userId: step.user.id,
        firstFactor: step.factor,
        deviceName: step.deviceName,
        delivery: step.delivery,
        passwordVersion: step.passwordVersion,
      });
      throw new AuthError('MFA_REQUIRED', undefined, { mfaToken, methods });
    }
    return this.startSession(step.user, { ...step, factors: [step.factor] });
  }

  /** A session for a sign-in whose every step has been proven. */
  async startSession(
    user: User,
    input: {
      factors: readonly AuthenticationMethod[];
      deviceName: string | null;
      passwordVersion: number | null;
      client: ClientInfo;
    },
  ): Promise<IssuedTokens> {
    const { session, refreshToken } = await this.deps.sessions.create({
      userId: user.id,
      deviceName: input.deviceName,
      client: input.client,
      cause: 'LOGIN_SUCCEEDED',
      // Only while the password the first step checked is still the user's: a change meanwhile wins.
      passwordVersion: input.passwordVersion,
      authenticationMethods: amrOf(input.factors),
    });
    return this.deps.tokens.issue(user, session, refreshToken);
  }
}
