import type { PrivateJwk, PublicJwk } from './auth/keys.js';
import type { ThrottleLimits } from './auth/throttle.js';
import type { Audience } from './graphql/conveniences.js';
import type { TrustProxy } from './graphql/trusted-proxies.js';

/** The configuration as the app receives it: what src/config.ts makes of the environment. */
export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly jwtPrivateKey: PrivateJwk | undefined;
  /** Webhook endpoints may resolve to private, loopback, link-local and other non-public addresses. */
  readonly webhookAllowPrivate: boolean;
  /** Public keys also accepted and published (key rotation). */
  readonly jwtVerificationKeys: readonly PublicJwk[];
  /** Seals the signing key stored in the database (AES-256-GCM); required in production without JWT_PRIVATE_KEY. */
  readonly keyEncryptionKey: Uint8Array | undefined;
  readonly accessTokenTtl: number;
  /** Seconds: sensitive changes need the access token's auth_time within this (else REAUTHENTICATION_REQUIRED). */
  readonly reauthMaxAge: number;
  readonly refreshTokenTtl: number;
  readonly sessionIdleTimeout: number;
  readonly refreshReuseGrace: number;
  /** Whose X-Forwarded-For entries are believed. */
  readonly trustProxy: TrustProxy;
  readonly sessionSweepInterval: number;
  readonly throttle: ThrottleLimits;
  /** How long a probe of the LISTEN connection may go unanswered before the instance counts itself unsynchronised. */
  readonly listenProbeTimeoutMs: number;
  readonly maxRequestBodyBytes: number;
  readonly maxSessionsPerUser: number;
  /** Seconds an ended session (and a spent refresh token) is kept before the retention sweeper deletes it. */
  readonly sessionRetention: number;
  /** Seconds an auth_events row is kept. */
  readonly authEventRetention: number;
  /** Exact origins (besides our own) allowed to call with credentials, the refresh cookie included. */
  readonly corsOrigins: readonly string[];
  /** Keys of GET /revocations (the revocation stream for other services); none: no such endpoint. */
  readonly revocationFeedKeys: readonly string[];
  /** Connections to GET /revocations served at once by this instance. */
  readonly revocationFeedMaxClients: number;
  /**
   * An unexpected error's details and field suggestions: everyone with NODE_ENV=development, loopback
   * clients only with NODE_ENV unset, nobody otherwise.
   */
  readonly errorDetails: Audience;
  /** GraphiQL and introspection: GRAPHIQL=true everyone, false nobody; unset, as errorDetails but loopback with NODE_ENV=test. */
  readonly graphiql: Audience;
  readonly mail: MailConfig;
  /** GET /metrics: behind METRICS_TOKEN on the main port, or on METRICS_PORT only; off without either. */
  readonly metrics: { readonly token: string | undefined; readonly port: number | undefined };
  /** The JWKS's Cache-Control max-age (seconds): a rotated key is published this long before it signs. */
  readonly jwksMaxAge: number;
  readonly webauthn: WebAuthnConfig;
}

/** Passkeys (src/auth/passkeys/). */
export interface WebAuthnConfig {
  /** The RP ID: the host name of PUBLIC_URL (`localhost` by default). */
  readonly rpId: string;
  /** Where a WebAuthn ceremony may take place: PUBLIC_URL's origin, then WEBAUTHN_ORIGINS. */
  readonly origins: readonly string[];
}

/** Accounts by email (src/auth/email-accounts/, src/mail/). */
export interface MailConfig {
  /** Off (MAIL=disabled): the mail mutations answer SERVICE_UNAVAILABLE. */
  readonly enabled: boolean;
  /** Null outside production without SMTP_URL: mails stay in the outbox, shown at /dev/mailbox. */
  readonly smtpUrl: string | null;
  readonly from: string;
  /** The base of the links in mails, without a trailing slash. */
  readonly publicUrl: string;
  /** Seconds each kind of token lives. */
  readonly tokenTtl: { readonly verification: number; readonly passwordReset: number; readonly emailChange: number };
  readonly maxPerRecipientPerHour: number;
  readonly maxPerIpPerHour: number;
  /** Seconds a sign-in code lives. */
  readonly signInCodeTtl: number;
  /** No password sign-in (signUp, login) before the address is proven. */
  readonly requireVerification: boolean;
}
