import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { at } from './columns.js';

/** Second factors: TOTP, recovery codes, the mfaToken, passkeys and their challenges. */

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
