import type { AccountDeletion } from './account-deletion.js';
import type { AccountReads } from './accounts.js';
import type { AdminUseCases } from './admin/admin-use-cases.js';
import type { Authenticator } from './authentication.js';
import type { CredentialUseCases } from './credentials.js';
import type { EmailAccountUseCases } from './email-accounts/email-accounts.js';
import type { WebhookEndpoints } from '../webhooks/endpoints.js';
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
  readonly deletion: AccountDeletion;
  readonly passkeys: PasskeyUseCases;
  readonly secondFactors: SecondFactorUseCases;
  readonly reauthentication: Reauthentication;
  /** The admin API's use cases; the caller must be an admin (the API's `admin` scope checks). */
  readonly admin: AdminUseCases;
  /** Webhook endpoints and their deliveries (admin fields). */
  readonly webhooks: WebhookEndpoints;
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
  deletion: AccountDeletion;
  secondFactors: SecondFactorUseCases;
  reauthentication: Reauthentication;
  admin: AdminUseCases;
  webhooks: WebhookEndpoints;
  passkeys: PasskeyUseCases;
}): AuthService {
  const { authentication, credentials, sessions, accounts, email, deletion, secondFactors, reauthentication, passkeys, admin, webhooks } =
    families;
  return {
    credentials,
    sessions,
    accounts,
    email,
    deletion,
    passkeys,
    secondFactors,
    reauthentication,
    admin,
    webhooks,
    authenticate: (authorization) => authentication.authenticate(authorization),
    hasEndedLocally: (sessionId) => authentication.hasEndedLocally(sessionId),
    refresh: (refreshToken, client) => sessions.refresh(refreshToken, client),
    logout: (auth, refreshToken, client) => sessions.logout(auth, refreshToken, client),
    endSessionOfRefreshToken: (refreshToken, client) => sessions.endSessionOfRefreshToken(refreshToken, client),
  };
}
