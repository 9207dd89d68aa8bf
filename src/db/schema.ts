import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { Role } from './roles.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    /** Stored normalised (trimmed, lower case), so the unique index is the uniqueness rule. */
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    /**
     * Bumped by every change of the password (not by a rehash of the same one): a login creates its
     * session only if the version it checked the password against is still the user's at commit.
     */
    passwordVersion: integer('password_version').notNull().default(0),
    createdAt: at('created_at').notNull(),
    /** Proven by a link or code sent to the address (src/auth/email-accounts/). */
    emailVerified: boolean('email_verified').notNull().default(false),
    /** USER or ADMIN (src/auth/roles.ts); the admin scope reads it here on every admin request, not from the token. */
    role: text('role').$type<Role>().notNull().default('USER'),
    /** Set by an admin's disableUser: no sign-in (ACCOUNT_DISABLED) until enableUser clears it. */
    disabledAt: at('disabled_at'),
    /** The admin's note on why, if any; for admins only. */
    disabledReason: text('disabled_reason'),
  },
  (t) => [
    uniqueIndex('users_email_key').on(t.email),
    // The admin list's order (created_at, id): a stable order for its cursors.
    index('users_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

/** A session is one login on one device, and one refresh-token family. */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    deviceName: text('device_name'),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: at('created_at').notNull(),
    lastUsedAt: at('last_used_at').notNull(),
    /** Absolute end: login + REFRESH_TOKEN_TTL. The idle end is lastUsedAt + SESSION_IDLE_TIMEOUT. */
    expiresAt: at('expires_at').notNull(),
    endedAt: at('ended_at'),
    endReason: text('end_reason'),
    /** RFC 8176 `amr` values of the last proof (sign-in or reauthenticate): pwd, otp, hwk, mfa. */
    authenticationMethods: text('authentication_methods').array().notNull().default(sql`'{pwd}'::text[]`),
    /** When the user last proved themselves in this session (`auth_time`); null on rows from before: createdAt. */
    authenticatedAt: at('authenticated_at'),
  },
  (t) => [
    index('sessions_user_id_last_used_at_idx').on(t.userId, t.lastUsedAt),
    index('sessions_ended_at_idx').on(t.endedAt),
  ],
);

/**
 * A session whose row was deleted outright (drizzle/0009) while an access token of it may still be
 * unexpired: the announcement of a live one's end (0005) reaches only the instances listening at that
 * moment, and an instance that was not (or that starts later) finds no row to reload. Kept for the
 * revocation window, then swept. No foreign key: the user is often what was deleted.
 */
export const deletedSessions = pgTable(
  'deleted_sessions',
  {
    sessionId: uuid('session_id').primaryKey(),
    userId: uuid('user_id').notNull(),
    /** Its deletion, or its end before that. */
    endedAt: at('ended_at').notNull(),
    /** ADMIN for a live session deleted, or the end's own reason. */
    endReason: text('end_reason').notNull(),
  },
  (t) => [index('deleted_sessions_ended_at_idx').on(t.endedAt)],
);

/** Every refresh token ever issued, by SHA-256 only; the chain of parents is the family. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    parentId: uuid('parent_id'),
    tokenHash: text('token_hash').notNull(),
    createdAt: at('created_at').notNull(),
    spentAt: at('spent_at'),
    /**
     * This token sealed (AES-256-GCM) under a key derived from its parent token, which is never stored:
     * a retry with the parent whose response was lost gets this token again; the database alone opens
     * nothing. Cleared once this token is spent.
     */
    sealedForParent: text('sealed_for_parent'),
  },
  (t) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    index('refresh_tokens_session_id_idx').on(t.sessionId),
    index('refresh_tokens_parent_id_idx').on(t.parentId),
    index('refresh_tokens_spent_at_idx').on(t.spentAt),
    // A family has at most one live token: a guard under the rotation statement, whatever the code does.
    uniqueIndex('refresh_tokens_one_live_per_session_key').on(t.sessionId).where(sql`${t.spentAt} is null`),
  ],
);

/**
 * ES256 signing keys generated on first start when JWT_PRIVATE_KEY is not given, and by
 * `rotate-signing-key`. Every row not retired is published; the phases are read against each
 * instance's clock (src/auth/key-rotation.ts), so every instance follows a rotation without a restart.
 */
export const signingKeys = pgTable('signing_keys', {
  kid: text('kid').primaryKey(),
  /** `{ sealed: "v1.…" }` (auth/secret-box.ts) under KEY_ENCRYPTION_KEY; a plain JWK only without one. */
  privateJwk: jsonb('private_jwk').notNull(),
  publicJwk: jsonb('public_jwk').notNull(),
  createdAt: at('created_at').notNull(),
  /** A rotated key signs from then on (the JWKS cache time after it was published); null: the first key. */
  signsFrom: at('signs_from'),
  /** Out of the JWKS, and no longer accepted, from then on: set when a successor is published. */
  retiresAt: at('retires_at'),
});

/**
 * Sliding-window counters of the throttle (login failures, sign-ups), shared by every instance: one
 * row per budget and key, holding the points of its last BUCKETS buckets (src/auth/throttle.ts), so
 * that a take locks one row and sees every point that counts against it. The arithmetic is in the
 * `throttle_take` function (drizzle/0006_throttle_counters.sql).
 */
export const throttleCounters = pgTable(
  'throttle_counters',
  {
    /** Budget prefix and what is counted: an IP (or /64), or a SHA-256 of an email and an IP, never the email itself. */
    key: text('key').primaryKey(),
    /** Tells a row from a later one of the same key (after a clear): a point is given back only to its own row. */
    incarnation: bigint('incarnation', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    /** The newest bucket counted (milliseconds since the epoch / bucket length); counts[last] is its count. */
    head: bigint('head', { mode: 'number' }).notNull(),
    /** Points per bucket, oldest first, ending at `head`. */
    counts: integer('counts').array().notNull(),
    /** When the last of its points has left every look-back: the sweeper deletes rows long past it. */
    expire: at('expire').notNull(),
  },
  (t) => [index('throttle_counters_expire_idx').on(t.expire)],
);

/**
 * Addresses that signed into an account before (src/auth/throttle.ts): they are exempt from the
 * account-wide failure budget, so that an attacker spending it cannot lock the owner out.
 */
export const knownLoginAddresses = pgTable(
  'known_login_addresses',
  {
    /** A SHA-256 of the email and the address's budget key (an IPv4 address or IPv6 /64), never the email itself. */
    key: text('key').primaryKey(),
    /** Known until then (a success moves it on); the sweeper deletes rows past it. */
    expire: at('expire').notNull(),
  },
  (t) => [index('known_login_addresses_expire_idx').on(t.expire)],
);

/**
 * Append-only audit log of authentication events (a trigger refuses UPDATE and DELETE; only the
 * retention sweeper may delete old rows). No foreign keys on purpose: the log outlives the sessions
 * the retention sweeper deletes and the users who are deleted, and a cascade would be a DELETE.
 * Never a password, token or hash here.
 */
export const authEvents = pgTable(
  'auth_events',
  {
    /** Insertion order: the tie-break between events of the same instant. */
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    type: text('type').notNull(),
    userId: uuid('user_id'),
    sessionId: uuid('session_id'),
    /** For SESSION_REVOKED: the revocation reason. */
    reason: text('reason'),
    /** The admin who did it, for an admin's action on the account (the user is the target). */
    actorId: uuid('actor_id'),
    /** For USER_ROLE_CHANGED the role given; for USER_DISABLED the admin's reason, if any. */
    detail: text('detail'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    occurredAt: at('occurred_at').notNull(),
  },
  (t) => [
    index('auth_events_user_id_occurred_at_idx').on(t.userId, t.occurredAt),
    index('auth_events_occurred_at_idx').on(t.occurredAt),
  ],
);

/**
 * Single-use tokens sent by mail (verification, password reset, email change), by SHA-256 only.
 * Bound to the address they were sent to; a newer one of the same purpose spends the older ones.
 */
export const emailTokens = pgTable(
  'email_tokens',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    /** The address the token was sent to (for an email change: the new one). */
    email: text('email').notNull(),
    /**
     * For an email change: the session that asked, which its confirmation leaves signed in while the
     * user's other sessions end. No foreign key: a session deleted by then ended long before, and
     * "all but it" is then all (a key would also cost every deletion of a session a lookup here).
     */
    sessionId: uuid('session_id'),
    tokenHash: text('token_hash').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    /** Used, or superseded by a newer token of the same purpose. */
    spentAt: at('spent_at'),
  },
  (t) => [
    uniqueIndex('email_tokens_token_hash_key').on(t.tokenHash),
    index('email_tokens_user_id_purpose_idx').on(t.userId, t.purpose),
    index('email_tokens_expires_at_idx').on(t.expiresAt),
  ],
);

/**
 * Mails to send, written in the transaction that caused them (with the token they carry) and sent
 * by the outbox sender (src/mail/outbox-sender.ts). Bodies are erased once the mail has been sent.
 */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    textBody: text('text_body').notNull(),
    htmlBody: text('html_body').notNull(),
    createdAt: at('created_at').notNull(),
    /** When a sender may next take it: after a backoff, or once the lease of the sender holding it has run out. */
    nextAttemptAt: at('next_attempt_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    sentAt: at('sent_at'),
    /** The last delivery failure, without the body. */
    lastError: text('last_error'),
  },
  (t) => [
    index('mail_outbox_due_idx').on(t.nextAttemptAt).where(sql`${t.sentAt} is null`),
    index('mail_outbox_recipient_created_at_idx').on(t.recipient, t.createdAt),
    index('mail_outbox_created_at_idx').on(t.createdAt),
  ],
);

/**
 * The requests of the "always true" mutations (requestPasswordReset, requestSignInCode), written by
 * the request's transaction for known and unknown addresses alike, and resolved by the mail-request
 * worker (src/auth/email-accounts/mail-requests.ts), which deletes each row in the transaction that
 * issues its token and mail (or finds no account). An acknowledged request thus survives a crash.
 */
export const mailRequests = pgTable(
  'mail_requests',
  {
    id: uuid('id').primaryKey(),
    /** RESET_PASSWORD or SIGN_IN_CODE. */
    kind: text('kind').notNull(),
    /** The address as requested (normalised); the row lives only until the worker resolves it. */
    email: text('email').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('mail_requests_created_at_idx').on(t.createdAt)],
);

/**
 * One-time sign-in codes (6 digits) by keyed hash only; a newer code spends the user's older ones.
 * Dead once spent, expired, or after its allowed wrong tries.
 */
export const signInCodes = pgTable(
  'sign_in_codes',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The address it was sent to: a code is good only while the account still has it. */
    email: text('email').notNull(),
    /** HMAC-SHA-256 of the user id and the code under a server-side key (docs/security.md). */
    codeHash: text('code_hash').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    failedTries: integer('failed_tries').notNull().default(0),
    /** Used, superseded, or killed by too many wrong tries. */
    spentAt: at('spent_at'),
  },
  (t) => [index('sign_in_codes_user_id_idx').on(t.userId), index('sign_in_codes_expires_at_idx').on(t.expiresAt)],
);

/**
 * Where an operator's backend hears what happened (src/webhooks/): a URL, the event types it wants,
 * and the signing secret (`whsec_…`), sealed under KEY_ENCRYPTION_KEY since signing needs it back.
 */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: uuid('id').primaryKey(),
  url: text('url').notNull(),
  events: text('events').array().notNull(),
  secret: text('secret').notNull(),
  createdAt: at('created_at').notNull(),
  /** The admin who created it; kept (as null) when that user is deleted. */
  createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
});

/**
 * The webhook outbox: one row per event and subscribed endpoint, written in the transaction of the
 * change, delivered by src/webhooks/sender.ts under a lease like the mail outbox.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    /** The `webhook-id`: one per event, the same for every attempt, so that receivers can deduplicate. */
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    /** The body as sent: `{ type, timestamp, data }`. */
    payload: jsonb('payload').notNull(),
    createdAt: at('created_at').notNull(),
    /** When a sender may next take it: after a backoff, or once the lease of the sender holding it has run out. */
    nextAttemptAt: at('next_attempt_at').notNull(),
    /** Retried until then (a day after it was written, or after a redelivery), then marked failed. */
    giveUpAt: at('give_up_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    deliveredAt: at('delivered_at'),
    failedAt: at('failed_at'),
    /** The last attempt's HTTP status (null: no response) and failure. */
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
  },
  (t) => [
    index('webhook_deliveries_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.deliveredAt} is null and ${t.failedAt} is null`),
    index('webhook_deliveries_endpoint_created_at_idx').on(t.endpointId, t.createdAt),
    index('webhook_deliveries_created_at_idx').on(t.createdAt),
  ],
);

/**
 * A user's authenticator app (RFC 6238). Unconfirmed (confirmedAt null) between startTotpEnrollment and
 * confirmTotpEnrollment. The secret is sealed (auth/secret-box.ts) under KEY_ENCRYPTION_KEY.
 */
export const totpFactors = pgTable('totp_factors', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  sealedSecret: text('sealed_secret').notNull(),
  createdAt: at('created_at').notNull(),
  confirmedAt: at('confirmed_at'),
  /** The last time step accepted: it and every earlier one are refused (no replay). */
  lastUsedStep: bigint('last_used_step', { mode: 'number' }),
});

/** One-time recovery codes, by SHA-256 only; a regeneration deletes the old ones. */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: at('created_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [uniqueIndex('recovery_codes_code_hash_key').on(t.codeHash), index('recovery_codes_user_id_idx').on(t.userId)],
);

/**
 * A first step that succeeded for a user with a second factor (the `mfaToken`, by SHA-256 only):
 * single use, short-lived, and carrying what the sign-in it stands for will need.
 */
export const mfaTokens = pgTable(
  'mfa_tokens',
  {
    id: uuid('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The first step's factor (RFC 8176): pwd, or otp for a code sent by mail. */
    firstFactor: text('first_factor').notNull(),
    deviceName: text('device_name'),
    /** The first step's TokenDelivery, BODY or COOKIE. */
    delivery: text('delivery').notNull(),
    /** The password version the first step checked (null when it checked none). */
    passwordVersion: integer('password_version'),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [uniqueIndex('mfa_tokens_token_hash_key').on(t.tokenHash), index('mfa_tokens_expires_at_idx').on(t.expiresAt)],
);

/**
 * WebAuthn credentials (passkeys). A credential id belongs to one user (unique across users): the
 * same authenticator cannot be registered to a second account. The public key is not a secret.
 */
export const passkeys = pgTable(
  'passkeys',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** base64url, as the browser reports it. */
    credentialId: text('credential_id').notNull(),
    /** COSE public key, base64url. */
    publicKey: text('public_key').notNull(),
    /** The authenticator's signature counter (uint32): a response must raise it unless both stay 0. */
    signCounter: bigint('sign_counter', { mode: 'number' }).notNull().default(0),
    transports: text('transports').array().notNull().default(sql`'{}'::text[]`),
    name: text('name').notNull(),
    createdAt: at('created_at').notNull(),
    lastUsedAt: at('last_used_at'),
  },
  (t) => [uniqueIndex('passkeys_credential_id_key').on(t.credentialId), index('passkeys_user_id_idx').on(t.userId)],
);

/**
 * WebAuthn challenges handed out and not yet answered: single use (consumed by a DELETE before the
 * answer is verified), valid 5 minutes. Only the challenge's SHA-256 is kept: the lookup of a
 * registration answer goes by it, and nobody can read a live challenge back out of the database.
 */
export const webauthnChallenges = pgTable(
  'webauthn_challenges',
  {
    id: uuid('id').primaryKey(),
    challengeHash: text('challenge_hash').notNull(),
    /** REGISTRATION, SIGN_IN (passwordless, or a fresh proof for reauthenticate) or SECOND_STEP. */
    purpose: text('purpose').notNull(),
    /** Known for REGISTRATION and SECOND_STEP. */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    /** For SECOND_STEP: the mfaToken it was started from, spent when it is answered. */
    mfaTokenId: uuid('mfa_token_id').references(() => mfaTokens.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [
    uniqueIndex('webauthn_challenges_challenge_hash_key').on(t.challengeHash),
    index('webauthn_challenges_expires_at_idx').on(t.expiresAt),
  ],
);
