import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import { checkDeviceName } from '../device-name.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import { findUserById } from '../users.js';
import type { PasskeyAssertions, StartedAssertion } from './assertion.js';

/** Signing in with a passkey: passwordless (a discoverable credential, no email typed). */
export class PasskeySignIn {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      assertions: PasskeyAssertions;
      sessions: SessionLifecycle;
      tokens: TokenIssuer;
    },
  ) {}

  start(): Promise<StartedAssertion> {
    return this.deps.assertions.start({ purpose: 'SIGN_IN' });
  }

  async signIn(
    input: { challengeId: string; response?: unknown; deviceName?: string | null },
    client: ClientInfo,
  ): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const { passkey } = await this.deps.assertions.verify(
      { challengeId: input.challengeId, response: input.response, field: 'response', purposes: ['SIGN_IN'] },
      client,
    );
    const user = await findUserById(this.deps.db, passkey.userId);
    if (!user) throw new AuthError('PASSKEY_REJECTED');
    const { session, refreshToken } = await this.deps.sessions.create({
      userId: user.id,
      deviceName,
      client,
      cause: 'LOGIN_SUCCEEDED',
      passwordVersion: null,
      alsoIn: async (tx) => {
        await recordAuthEvent(tx, { type: 'PASSKEY_USED', userId: user.id, client, at: this.deps.clock() });
      },
    });
    return this.deps.tokens.issue(user, session, refreshToken);
  }
}
