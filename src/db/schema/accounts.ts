import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { Role } from '../roles.js';
import { at } from './columns.js';

/** Users, their sessions and refresh tokens, signing keys, throttling and the audit log. */

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
