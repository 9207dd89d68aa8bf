import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { at } from './columns.js';

/** Mailed tokens and codes, and the mail outbox (src/auth/email-accounts/, src/mail/). */

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
