import { z } from 'zod';
import type { PrivateJwk, PublicJwk } from './auth/keys.js';
import type { ThrottleLimits } from './auth/throttle.js';

export type { PrivateJwk, PublicJwk };

/**
 * The only reader of process.env. Parsed and validated once at start-up so that a bad value
 * stops the process with one clear line per problem instead of surfacing in a request.
 */

const seconds = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .positive('must be positive')
    .default(fallback);

const count = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .positive('must be positive')
    .default(fallback);

/** A variable holding JSON, parsed; `message` when it is not JSON. */
const json = (message: string) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
  });

const privateJwk = json('must be a private JWK as JSON').pipe(
  z.looseObject(
    {
      kty: z.literal('EC', 'must be an EC key (kty "EC")'),
      crv: z.literal('P-256', 'must be on curve P-256 (ES256)'),
      x: z.string({ error: 'must contain the public part "x"' }),
      y: z.string({ error: 'must contain the public part "y"' }),
      d: z.string({ error: 'must contain the private part "d"' }),
      kid: z.string().optional(),
    },
    { error: 'must be a private JWK as JSON' },
  ),
);

const PUBLIC_JWKS_MESSAGE = 'must be a JSON array of public EC P-256 JWKs (kty, crv, x, y, optional kid)';

/**
 * Public keys accepted and published beside the signing key: what rotating it needs (the next key
 * published before it signs, the previous one kept until its tokens have expired). Public only: a
 * private part here would be a secret where none is expected, so it is refused rather than dropped.
 */
const publicJwks = json(PUBLIC_JWKS_MESSAGE).pipe(
  z
    .array(
      z
        .looseObject(
          {
            kty: z.literal('EC', 'each key must be an EC key (kty "EC")'),
            crv: z.literal('P-256', 'each key must be on curve P-256 (ES256)'),
            x: z.string({ error: 'each key must contain "x"' }),
            y: z.string({ error: 'each key must contain "y"' }),
            kid: z.string().min(1, 'a kid must not be empty').optional(),
          },
          { error: PUBLIC_JWKS_MESSAGE },
        )
        .refine((jwk) => !('d' in jwk), 'must hold public keys only: remove "d" (the private part)'),
      { error: PUBLIC_JWKS_MESSAGE },
    )
    .max(10, 'at most 10 keys'),
);

const ORIGINS_MESSAGE = 'must be a comma-separated list of exact origins such as https://app.example.com (no path, no *)';

/** Exact origins only: a wildcard or a path would widen who may send credentialed requests. */
const origins = z.string().transform((text, ctx) => {
  const list = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of list) {
    let origin: string | null = null;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && !entry.includes('*')) origin = url.origin;
    } catch {
      // not a URL: reported below
    }
    if (origin !== entry) {
      ctx.addIssue({ code: 'custom', message: ORIGINS_MESSAGE });
      return z.NEVER;
    }
  }
  return [...new Set(list)];
});

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
  ACCESS_TOKEN_TTL: seconds(900),
  REFRESH_TOKEN_TTL: seconds(2_592_000),
  SESSION_IDLE_TIMEOUT: seconds(604_800),
  REFRESH_REUSE_GRACE: z.coerce
    .number({ error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must be 0 or more')
    .default(10),
  TRUST_PROXY: z.stringbool({ error: 'must be true or false' }).default(false),
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
});

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly jwtPrivateKey: PrivateJwk | undefined;
  /** Public keys also accepted and published (key rotation). */
  readonly jwtVerificationKeys: readonly PublicJwk[];
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  readonly sessionIdleTimeout: number;
  readonly refreshReuseGrace: number;
  readonly trustProxy: boolean;
  readonly sessionSweepInterval: number;
  readonly throttle: ThrottleLimits;
  readonly maxRequestBodyBytes: number;
  readonly maxSessionsPerUser: number;
  /** Seconds an ended session (and a spent refresh token) is kept before the retention sweeper deletes it. */
  readonly sessionRetention: number;
  /** Seconds an auth_events row is kept. */
  readonly authEventRetention: number;
  /** Exact origins (besides our own) allowed to call with credentials, the refresh cookie included. */
  readonly corsOrigins: readonly string[];
  /** GraphiQL and introspection: on outside production unless GRAPHIQL=false, off in production unless GRAPHIQL=true. */
  readonly graphiql: boolean;
  readonly mail: MailConfig;
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
}

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
  return Object.freeze({
    env: v.NODE_ENV,
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    jwtPrivateKey: v.JWT_PRIVATE_KEY,
    jwtVerificationKeys: Object.freeze(v.JWT_VERIFICATION_KEYS),
    accessTokenTtl: v.ACCESS_TOKEN_TTL,
    refreshTokenTtl: v.REFRESH_TOKEN_TTL,
    sessionIdleTimeout: v.SESSION_IDLE_TIMEOUT,
    refreshReuseGrace: v.REFRESH_REUSE_GRACE,
    trustProxy: v.TRUST_PROXY,
    sessionSweepInterval: v.SESSION_SWEEP_INTERVAL,
    throttle: Object.freeze({
      loginFailuresPerAccount: { points: v.LOGIN_MAX_FAILURES_PER_ACCOUNT, window: v.LOGIN_ACCOUNT_WINDOW },
      loginFailuresPerIp: { points: v.LOGIN_MAX_FAILURES_PER_IP, window: v.LOGIN_IP_WINDOW },
      signUpsPerIp: { points: v.SIGNUP_MAX_PER_IP, window: v.SIGNUP_IP_WINDOW },
    }),
    maxRequestBodyBytes: v.MAX_REQUEST_BODY_BYTES,
    maxSessionsPerUser: v.MAX_SESSIONS_PER_USER,
    sessionRetention: v.SESSION_RETENTION,
    authEventRetention: v.AUTH_EVENT_RETENTION,
    corsOrigins: Object.freeze(v.CORS_ORIGINS),
    graphiql: v.GRAPHIQL ?? v.NODE_ENV !== 'production',
    mail: mailConfig(v),
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
  });
}
