import { z } from 'zod';
import type { Config, MailConfig, WebAuthnConfig } from './config-types.js';
import type { PrivateJwk, PublicJwk } from './auth/keys.js';
import type { Audience } from './graphql/conveniences.js';
import { parseTrustProxy, TRUST_PROXY_MESSAGE } from './graphql/trusted-proxies.js';
import { count, feedKeys, keyEncryptionKey, MAX_ACCESS_TOKEN_TTL, MAX_REFRESH_REUSE_GRACE, origins, privateJwk, publicJwks, seconds } from './config-values.js';

export type { PrivateJwk, PublicJwk };
export type { Config, MailConfig, WebAuthnConfig } from './config-types.js';

/**
 * The only reader of process.env. Parsed and validated once at start-up so that a bad value
 * stops the process with one clear line per problem instead of surfacing in a request.
 */


const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce
    .number({ error: 'must be a port number (0 to 65535)' })
    .int('must be a port number (0 to 65535)')
    .min(0, 'must be a port number (0 to 65535)')
    .max(65535, 'must be a port number (0 to 65535)')
    .default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  JWT_ISSUER: z.string().min(1).default('http://localhost:4000'),
  JWT_AUDIENCE: z.string().min(1).default('tidepass'),
  JWT_PRIVATE_KEY: privateJwk.optional(),
  JWT_VERIFICATION_KEYS: publicJwks.default([]),
  KEY_ENCRYPTION_KEY: keyEncryptionKey.optional(),
  // Each ended session is held in every instance's memory for this long, and a stolen token lives as long.
  ACCESS_TOKEN_TTL: seconds(900).pipe(z.number().max(MAX_ACCESS_TOKEN_TTL, `must be at most ${MAX_ACCESS_TOKEN_TTL} (one hour)`)),
  REFRESH_TOKEN_TTL: seconds(2_592_000),
  SESSION_IDLE_TIMEOUT: seconds(604_800),
  REFRESH_REUSE_GRACE: z.coerce
    .number({ error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must be 0 or more')
    // Inside the window a spent token still counts as a lost response rather than a theft.
    .max(MAX_REFRESH_REUSE_GRACE, `must be at most ${MAX_REFRESH_REUSE_GRACE}: a longer window lets a stolen spent token pass as a retry`)
    .default(10),
  TRUST_PROXY: z
    .string()
    .transform((text, ctx) => {
      const trust = parseTrustProxy(text);
      if (trust) return trust;
      ctx.addIssue({ code: 'custom', message: TRUST_PROXY_MESSAGE });
      return z.NEVER;
    })
    .default({ kind: 'none' }),
  SESSION_SWEEP_INTERVAL: z.coerce
    .number({ error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .min(1, 'must be at least 1')
    .max(60, 'must be at most 60: expired sessions are swept at least every minute')
    .default(30),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: count(5),
  LOGIN_ACCOUNT_WINDOW: seconds(900),
  LOGIN_MAX_FAILURES_PER_IP: count(100),
  LOGIN_IP_WINDOW: seconds(3600),
  SIGNUP_MAX_PER_IP: count(20),
  SIGNUP_IP_WINDOW: seconds(3600),
  LOGIN_MAX_FAILURES_ACCOUNT_WIDE: count(20),
  LOGIN_ACCOUNT_WIDE_WINDOW: seconds(3600),
  LOGIN_KNOWN_ADDRESS_TTL: seconds(7_776_000),
  LISTEN_PROBE_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(100, 'must be at least 100')
    .max(2000, 'must be at most 2000: until then a dead LISTEN connection goes unnoticed')
    .default(1500),
  MAX_REQUEST_BODY_BYTES: count(65_536),
  MAX_SESSIONS_PER_USER: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(10),
  SESSION_RETENTION: seconds(2_592_000),
  AUTH_EVENT_RETENTION: seconds(7_776_000),
  CORS_ORIGINS: origins.default([]),
  GRAPHIQL: z.stringbool({ error: 'must be true or false' }).optional(),
  REVOCATION_FEED_KEYS: feedKeys.default([]),
  REVOCATION_FEED_MAX_CLIENTS: count(100),
  // Accounts by email: mail delivery, links, token lifetimes.
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^/]/, 'must be an smtp:// or smtps:// URL such as smtp://user:pass@host:587')
    .optional(),
  MAIL_FROM: z.string().min(3).default('tidepass <no-reply@localhost>'),
  MAIL: z.enum(['enabled', 'disabled'], { error: 'must be enabled or disabled' }).default('enabled'),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .transform((url) => url.replace(/\/+$/, ''))
    .default('http://localhost:4000'),
  EMAIL_VERIFICATION_TTL: seconds(86_400),
  PASSWORD_RESET_TTL: seconds(1_800),
  EMAIL_CHANGE_TTL: seconds(3_600),
  MAIL_MAX_PER_RECIPIENT_PER_HOUR: count(5),
  MAIL_MAX_PER_IP_PER_HOUR: count(50),
  SIGN_IN_CODE_TTL: seconds(600),
  REQUIRE_EMAIL_VERIFICATION: z.stringbool({ error: 'must be true or false' }).default(false),
  // Passkeys: origins besides PUBLIC_URL's whose pages may use our RP ID (the host of PUBLIC_URL).
  WEBAUTHN_ORIGINS: origins.default([]),
  // Step-up: how recent a proof sensitive changes need (src/auth/second-factors/step-up.ts).
  REAUTH_MAX_AGE: seconds(300),
  // Prometheus metrics (src/metrics/): off unless one of these is set.
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters (a random secret)').optional(),
  METRICS_PORT: z.coerce
    .number({ error: 'must be a port number (0 to 65535)' })
    .int('must be a port number (0 to 65535)')
    .min(0, 'must be a port number (0 to 65535)')
    .max(65535, 'must be a port number (0 to 65535)')
    .optional(),
  // Signing-key rotation waits this long between publishing a key and signing with it.
  JWKS_MAX_AGE: seconds(300).pipe(z.number().max(86_400, 'must be at most 86400 (a day)')),
  // Webhooks: endpoints on private networks only when the operator says so (tests, a trusted LAN).
  WEBHOOK_ALLOW_PRIVATE: z.stringbool({ error: 'must be true or false' }).default(false),
});

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The one form of every configuration error: a line per bad variable. */
export function invalidConfiguration(problems: readonly (readonly [name: string, message: string])[]): ConfigError {
  return new ConfigError(`Invalid configuration:\n${problems.map(([name, message]) => `  ${name}: ${message}`).join('\n')}`);
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    // One line per bad variable: a JWK with three wrong fields is still one bad value.
    const firstIssues = new Map<PropertyKey, string>();
    for (const issue of parsed.error.issues) {
      if (!firstIssues.has(issue.path[0]!)) firstIssues.set(issue.path[0]!, issue.message);
    }
    throw invalidConfiguration([...firstIssues].map(([name, message]) => [String(name), message] as const));
  }
  const v = parsed.data;
  const conflicts = crossCheck(v);
  if (conflicts.length > 0) throw invalidConfiguration(conflicts);
  return Object.freeze({
    env: v.NODE_ENV,
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    jwtPrivateKey: v.JWT_PRIVATE_KEY,
    webhookAllowPrivate: v.WEBHOOK_ALLOW_PRIVATE,
    jwtVerificationKeys: Object.freeze(v.JWT_VERIFICATION_KEYS),
    keyEncryptionKey: v.KEY_ENCRYPTION_KEY,
    accessTokenTtl: v.ACCESS_TOKEN_TTL,
    reauthMaxAge: v.REAUTH_MAX_AGE,
    refreshTokenTtl: v.REFRESH_TOKEN_TTL,
    sessionIdleTimeout: v.SESSION_IDLE_TIMEOUT,
    refreshReuseGrace: v.REFRESH_REUSE_GRACE,
    trustProxy: v.TRUST_PROXY,
    sessionSweepInterval: v.SESSION_SWEEP_INTERVAL,
    throttle: Object.freeze({
      loginFailuresPerAccount: { points: v.LOGIN_MAX_FAILURES_PER_ACCOUNT, window: v.LOGIN_ACCOUNT_WINDOW },
      loginFailuresPerIp: { points: v.LOGIN_MAX_FAILURES_PER_IP, window: v.LOGIN_IP_WINDOW },
      signUpsPerIp: { points: v.SIGNUP_MAX_PER_IP, window: v.SIGNUP_IP_WINDOW },
      loginFailuresAccountWide: { points: v.LOGIN_MAX_FAILURES_ACCOUNT_WIDE, window: v.LOGIN_ACCOUNT_WIDE_WINDOW },
      knownAddressTtl: v.LOGIN_KNOWN_ADDRESS_TTL,
    }),
    listenProbeTimeoutMs: v.LISTEN_PROBE_TIMEOUT_MS,
    maxRequestBodyBytes: v.MAX_REQUEST_BODY_BYTES,
    maxSessionsPerUser: v.MAX_SESSIONS_PER_USER,
    sessionRetention: v.SESSION_RETENTION,
    authEventRetention: v.AUTH_EVENT_RETENTION,
    corsOrigins: Object.freeze(v.CORS_ORIGINS),
    revocationFeedKeys: Object.freeze(v.REVOCATION_FEED_KEYS),
    revocationFeedMaxClients: v.REVOCATION_FEED_MAX_CLIENTS,
    ...conveniences(v, present['NODE_ENV'] !== undefined),
    mail: mailConfig(v),
    metrics: Object.freeze({ token: v.METRICS_TOKEN, port: v.METRICS_PORT }),
    jwksMaxAge: v.JWKS_MAX_AGE,
    webauthn: webauthnConfig(v),
  });
}

function mailConfig(v: z.infer<typeof envSchema>): MailConfig {
  // Refused rather than silently dropping every mail: a reset link that never arrives locks users out.
  if (v.NODE_ENV === 'production' && !v.SMTP_URL && v.MAIL === 'enabled') {
    throw invalidConfiguration([['SMTP_URL', 'is required in production (or set MAIL=disabled to turn mail off)']]);
  }
  return Object.freeze({
    enabled: v.MAIL === 'enabled',
    smtpUrl: v.SMTP_URL ?? null,
    from: v.MAIL_FROM,
    publicUrl: v.PUBLIC_URL,
    tokenTtl: Object.freeze({
      verification: v.EMAIL_VERIFICATION_TTL,
      passwordReset: v.PASSWORD_RESET_TTL,
      emailChange: v.EMAIL_CHANGE_TTL,
    }),
    maxPerRecipientPerHour: v.MAIL_MAX_PER_RECIPIENT_PER_HOUR,
    maxPerIpPerHour: v.MAIL_MAX_PER_IP_PER_HOUR,
    signInCodeTtl: v.SIGN_IN_CODE_TTL,
    requireVerification: v.REQUIRE_EMAIL_VERIFICATION,
  });
}

function webauthnConfig(v: z.infer<typeof envSchema>): WebAuthnConfig {
  const publicUrl = new URL(v.PUBLIC_URL);
  return Object.freeze({
    rpId: publicUrl.hostname,
    origins: Object.freeze([...new Set([publicUrl.origin, ...v.WEBAUTHN_ORIGINS])]),
  });
}

/** Development conveniences for everyone only when asked for: an unset NODE_ENV is a laptop's, or a forgotten setting. */
function conveniences(v: z.infer<typeof envSchema>, nodeEnvSet: boolean): { errorDetails: Audience; graphiql: Audience } {
  const development: Audience = v.NODE_ENV === 'development' && nodeEnvSet ? 'everyone' : 'loopback';
  const errorDetails: Audience = v.NODE_ENV === 'development' ? development : 'nobody';
  const graphiql: Audience = v.GRAPHIQL === undefined ? (v.NODE_ENV === 'production' ? 'nobody' : development) : v.GRAPHIQL ? 'everyone' : 'nobody';
  return { errorDetails, graphiql };
}

/** Values valid alone but not together: each a line naming the variable to change. */
function crossCheck(v: z.infer<typeof envSchema>): [name: string, message: string][] {
  const problems: [string, string][] = [];
  if (v.SESSION_RETENTION < v.REFRESH_TOKEN_TTL) {
    // A spent refresh token deleted while it could still be presented would be "unknown", not "reused".
    problems.push([
      'SESSION_RETENTION',
      `must be at least REFRESH_TOKEN_TTL (${v.REFRESH_TOKEN_TTL}): spent refresh tokens must be kept as long as they can be presented, or reuse goes undetected`,
    ]);
  }
  if (v.NODE_ENV === 'production' && !v.JWT_PRIVATE_KEY && !v.KEY_ENCRYPTION_KEY) {
    // Whoever reads the database (a replica, a backup, a reporting role) could otherwise mint tokens.
    problems.push([
      'KEY_ENCRYPTION_KEY',
      'must be set in production unless JWT_PRIVATE_KEY is: it encrypts the signing key stored in the database',
    ]);
  }
  if (v.REQUIRE_EMAIL_VERIFICATION && v.MAIL === 'disabled') {
    // Nobody could ever prove an address, so nobody could sign up or log in.
    problems.push(['REQUIRE_EMAIL_VERIFICATION', 'cannot be true with MAIL=disabled: no address could ever be verified']);
  }
  return problems;
}
