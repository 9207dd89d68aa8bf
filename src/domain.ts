/** Sessions, their store and the families of use cases: what the composition root (app.ts) builds the API on. */
import { hkdfSync } from 'node:crypto';
import { AccessTokens } from './auth/access-tokens.js';
import { AccountDeletion } from './auth/account-deletion.js';
import { AccountReads } from './auth/accounts.js';
import { AdminUseCases } from './auth/admin/admin-use-cases.js';
import { Authenticator } from './auth/authentication.js';
import { CredentialUseCases } from './auth/credentials.js';
import { EmailAccountUseCases } from './auth/email-accounts/email-accounts.js';
import { TokenIssuer } from './auth/issued-tokens.js';
import { type SigningKeys } from './auth/keys.js';
import { withOutagesAsUnavailable } from './auth/outages.js';
import { PasskeyUseCases } from './auth/passkeys/passkeys.js';
import { PendingEnds } from './auth/pending-ends.js';
import { sweepRetention } from './auth/retention.js';
import { SecretBox } from './auth/secret-box.js';
import { CodeCheck } from './auth/second-factors/code-check.js';
import { Reauthentication } from './auth/second-factors/reauthentication.js';
import { sweepMfaTokens } from './auth/second-factors/mfa-tokens.js';
import { SecondFactorUseCases } from './auth/second-factors/second-factor-use-cases.js';
import { SecretSealer } from './auth/second-factors/sealing.js';
import { SignInGate } from './auth/second-factors/sign-in-gate.js';
import { StepUp } from './auth/second-factors/step-up.js';
import { type RevocationSet } from './auth/revocations.js';
import { authServiceOf } from './auth/service.js';
import { SessionUseCases } from './auth/session-use-cases.js';
import { liveWindow, SessionLifecycle } from './auth/sessions.js';
import { Throttle } from './auth/throttle.js';
import { UserDeletion } from './auth/user-deletion.js';
import { countingEnds } from './app-metrics.js';
import { type Clock } from './clock.js';
import { type Config } from './config.js';
import { type DatabaseHandle } from './db/client.js';
import { SessionStore } from './db/session-store.js';
import type { RevocationBus } from './events/revocation-bus.js';
import { type Logger } from './logger.js';
import { type MailDelivery } from './mail/mail-delivery.js';
import { type Metrics } from './metrics/metrics.js';
import { withReportedOutcomes } from './auth/outcomes.js';
import { WebhookEndpoints } from './webhooks/endpoints.js';
import { withSessionRevokedWebhooks } from './webhooks/revocation-hook.js';
import { WebhookSender } from './webhooks/sender.js';
import { systemResolve } from './webhooks/url-policy.js';
import type { AppOptions } from './app-types.js';

/** How long a webhook receiver has to answer. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** Sessions, their store and the families of use cases, with what they share. */
export function buildDomain(input: {
  config: Config;
  options: AppOptions;
  database: DatabaseHandle;
  bus: RevocationBus;
  revocations: RevocationSet;
  keys: SigningKeys;
  clock: Clock;
  logger: Logger;
  mail: MailDelivery;
  metrics: Metrics;
}) {
  const { config, options, bus, revocations, keys, clock, logger, metrics } = input;
  const { db } = input.database;
  const policy = {
    refreshTokenTtl: config.refreshTokenTtl,
    sessionIdleTimeout: config.sessionIdleTimeout,
    refreshReuseGrace: config.refreshReuseGrace,
    maxSessionsPerUser: config.maxSessionsPerUser,
  };
  // Every end is announced inside its transaction: there, too, its session.revoked webhooks are queued.
  const endsBus = countingEnds(withSessionRevokedWebhooks(bus, config.accessTokenTtl), metrics);
  const store = new SessionStore({ db, bus: endsBus, window: () => liveWindow(policy, clock()) });
  const sessions = new SessionLifecycle({ db, store, clock, policy });
  const accessTokens = new AccessTokens({
    keys,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttl: config.accessTokenTtl,
    clock,
  });
  const throttle = new Throttle({ db, limits: config.throttle });
  const pendingEnds = new PendingEnds({
    end: (selection, reason, client) => sessions.end(selection, reason, client),
    bus,
    clock,
    logger,
    timer: options.pendingEndTimer,
    capacity: options.pendingEndCapacity,
  });
  const tokens = new TokenIssuer({ accessTokens, sessions });
  const gate = new SignInGate({ db, clock, sessions, tokens });
  const stepUp = new StepUp({ db, clock, maxAge: config.reauthMaxAge });
  const sealer = new SecretSealer(config.keyEncryptionKey ? new SecretBox(config.keyEncryptionKey) : null);
  const codes = new CodeCheck({ db, clock, throttle, sealer });
  const email = new EmailAccountUseCases({
    ...{ db, clock, logger, sessions, tokens, gate, stepUp, loginThrottle: throttle, mail: config.mail },
    signInCodeKey: signInCodeKey(config),
    wakeSender: () => input.mail.wake(),
    timer: options.mailTimer,
  });
  const verification = email.verificationRequirement;
  // The one way an account is deleted: by its user (deleteAccount) or by an operator (reason ADMIN).
  const userDeletion = new UserDeletion({ sessions, clock });
  const secretBox = config.keyEncryptionKey && new SecretBox(config.keyEncryptionKey);
  const webhookPolicy = { allowPrivate: config.webhookAllowPrivate, resolve: options.webhooks?.resolve ?? systemResolve };
  const relyingParty = { id: config.webauthn.rpId, name: 'tidepass', origins: config.webauthn.origins };
  const auth = authServiceOf({
    authentication: new Authenticator({ accessTokens, revocations, sessions }),
    credentials: withReportedOutcomes(
      withOutagesAsUnavailable(new CredentialUseCases({ db, clock, sessions, tokens, throttle, verification, gate, stepUp }), logger),
      { login: metrics.outcomes.login, signUp: metrics.outcomes.signUp },
    ),
    sessions: withOutagesAsUnavailable(new SessionUseCases({ sessions, tokens, pendingEnds, outcomes: metrics.outcomes }), logger),
    accounts: withOutagesAsUnavailable(new AccountReads({ db }), logger),
    email: withOutagesAsUnavailable(email, logger),
    deletion: withOutagesAsUnavailable(new AccountDeletion({ db, clock, throttle, userDeletion, stepUp }), logger),
    secondFactors: withOutagesAsUnavailable(new SecondFactorUseCases({ db, clock, sealer, stepUp, gate, codes }), logger),
    reauthentication: withOutagesAsUnavailable(new Reauthentication({ db, clock, sessions, tokens, throttle, codes }), logger),
    passkeys: withOutagesAsUnavailable(new PasskeyUseCases({ db, clock, sessions, tokens, gate, stepUp, relyingParty }), logger),
    admin: withOutagesAsUnavailable(new AdminUseCases({ db, clock, sessions, tokens, userDeletion }), logger),
    webhooks: withOutagesAsUnavailable(new WebhookEndpoints({ db, clock, secretBox, ...webhookPolicy }), logger),
  });
  const webhookSender = new WebhookSender({
    ...{ db, clock, logger, secretBox, ...webhookPolicy },
    timeoutMs: options.webhooks?.timeoutMs ?? WEBHOOK_TIMEOUT_MS,
  });
  const retention = {
    sessionRetention: config.sessionRetention,
    authEventRetention: config.authEventRetention,
    deletedSessionRetention: revocations.windowSeconds,
  };
  return {
    auth,
    webhookSender,
    throttle,
    pendingEnds,
    userDeletion,
    sweepExpiredSessions: () => sessions.expire(),
    // Spent and expired mfaTokens go with the other old rows: an hour after their expiry.
    sweepRetention: async () => {
      await sweepMfaTokens(db, clock());
      return sweepRetention({ db, clock, policy: retention });
    },
  };
}

/**
 * The sign-in codes' HMAC key: derived from a secret kept outside the database, so that a copy of
 * the database cannot be searched for the codes it holds (docs/security.md). Production always has one.
 */
function signInCodeKey(config: Config): Uint8Array | null {
  const secret = config.keyEncryptionKey ?? (config.jwtPrivateKey && Buffer.from(config.jwtPrivateKey.d, 'base64url'));
  if (!secret) return null;
  return new Uint8Array(hkdfSync('sha256', secret, Buffer.alloc(0), 'tidepass sign-in codes', 32));
}
