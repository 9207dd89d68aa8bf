import type { AccountReads } from './accounts.js';
import type { Authenticator } from './authentication.js';
import type { CredentialUseCases } from './credentials.js';
import type { EmailAccountUseCases } from './email-accounts/email-accounts.js';
import type { PasskeyUseCases } from './passkeys/passkeys.js';
import type { Reauthentication } from './second-factors/reauthentication.js';
import type { SecondFactorUseCases } from './second-factors/second-factor-use-cases.js';
import type { SessionUseCases } from './session-use-cases.js';

export type { Authentication, Viewer } from './authentication.js';
export type { IssuedTokens, SessionView } from './issued-tokens.js';

/**
 * The domain as the API layer receives it: the families of use cases, for resolvers to pick from,
 * and the calls its plumbing makes outside resolvers (the token check of each request and socket
 * operation; refresh and logout through the refresh cookie).
 */
export interface AuthService {
  readonly credentials: CredentialUseCases;
  readonly sessions: SessionUseCases;
  readonly accounts: AccountReads;
  readonly email: EmailAccountUseCases;
  readonly passkeys: PasskeyUseCases;
  readonly secondFactors: SecondFactorUseCases;
  readonly reauthentication: Reauthentication;
  authenticate: Authenticator['authenticate'];
  hasEndedLocally: Authenticator['hasEndedLocally'];
  refresh: SessionUseCases['refresh'];
  logout: SessionUseCases['logout'];
  endSessionOfRefreshToken: SessionUseCases['endSessionOfRefreshToken'];
}

export function authServiceOf(families: {
  authentication: Authenticator;
  credentials: CredentialUseCases;
  sessions: SessionUseCases;
  accounts: AccountReads;
  email: EmailAccountUseCases;
  secondFactors: SecondFactorUseCases;
  reauthentication: Reauthentication;
  passkeys: PasskeyUseCases;
}): AuthService {
  const { authentication, credentials, sessions, accounts, email, secondFactors, reauthentication, passkeys } = families;
  return {
    credentials,
    sessions,
    accounts,
    email,
    passkeys,
    secondFactors,
    reauthentication,
    authenticate: (authorization) => authentication.authenticate(authorization),
    hasEndedLocally: (sessionId) => authentication.hasEndedLocally(sessionId),
    refresh: (refreshToken, client) => sessions.refresh(refreshToken, client),
    logout: (auth, refreshToken, client) => sessions.logout(auth, refreshToken, client),
    endSessionOfRefreshToken: (refreshToken, client) => sessions.endSessionOfRefreshToken(refreshToken, client),
  };
}
