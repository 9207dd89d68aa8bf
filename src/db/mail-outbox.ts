import { and, count, desc, eq, gt, inArray, isNull, lt, lte, min, sql } from 'drizzle-orm';
import type { Database, Executor } from './client.js';
import { mailOutbox } from './schema.js';

/** A mail as composed: a plain-text and an HTML part. */
export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface QueuedMail extends OutgoingMail {
  readonly id: string;
  readonly attempts: number;
}

/** A mail of the outbox as the development mailbox shows it. */
export interface MailboxEntry extends OutgoingMail {
  readonly id: string;
  readonly createdAt: Date;
  readonly sentAt: Date | null;
}

/** Writes a mail to the outbox; pass the transaction that writes what the mail carries (its token). */
export async function enqueueMail(tx: Executor, mail: OutgoingMail, now: Date): Promise<void> {
  await tx.insert(mailOutbox).values({
    id: crypto.randomUUID(),
    recipient: mail.to,
    subject: mail.subject,
    textBody: mail.text,
    htmlBody: mail.html,
    createdAt: now,
    nextAttemptAt: now,
  });
}

/**
 * Takes up to `limit` due mails for this sender: each is leased until `leaseUntil`, so another
 * instance skips it (SKIP LOCKED while we claim, the lease after) and takes it only if we die first.
 */
export async function claimDueMails(
  db: Database,
  input: { now: Date; leaseUntil: Date; limit: number },
): Promise<QueuedMail[]> {
  const due = db
    .select({ id: mailOutbox.id })
    .from(mailOutbox)
    .where(and(isNull(mailOutbox.sentAt), lte(mailOutbox.nextAttemptAt, input.now)))
    .orderBy(mailOutbox.nextAttemptAt)
    .limit(input.limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .update(mailOutbox)
    .set({ nextAttemptAt: input.leaseUntil, attempts: sql`${mailOutbox.attempts} + 1` })
    .where(inArray(mailOutbox.id, due))
    .returning();
  return rows.map((row) => ({
    id: row.id,
    to: row.recipient,
    subject: row.subject,
    text: row.textBody,
    html: row.htmlBody,
    attempts: row.attempts,
  }));
}

/** Sent: the bodies (which hold a live token) are erased. */
export async function markMailSent(db: Database, id: string, now: Date): Promise<void> {
  await db
    .update(mailOutbox)
    .set({ sentAt: now, textBody: '', htmlBody: '', lastError: null })
    .where(eq(mailOutbox.id, id));
}

export async function markMailFailed(db: Database, id: string, input: { retryAt: Date; error: string }): Promise<void> {
  await db
    .update(mailOutbox)
    .set({ nextAttemptAt: input.retryAt, lastError: input.error })
    .where(and(eq(mailOutbox.id, id), isNull(mailOutbox.sentAt)));
}

/** How many mails went to this address since `since`, and the oldest of them (the per-recipient limit). */
export async function countMailsTo(
  db: Executor,
  recipient: string,
  since: Date,
): Promise<{ count: number; oldest: Date | null }> {
  const [row] = await db
    .select({ n: count(), oldest: min(mailOutbox.createdAt) })
    .from(mailOutbox)
    .where(and(eq(mailOutbox.recipient, recipient), gt(mailOutbox.createdAt, since)));
  return { count: row?.n ?? 0, oldest: row?.oldest ?? null };
}

/** The newest mails, for the development mailbox. */
export async function listRecentMails(db: Executor, limit: number): Promise<MailboxEntry[]> {
  const rows = await db.select().from(mailOutbox).orderBy(desc(mailOutbox.createdAt)).limit(limit);
  return rows.map((row) => ({
    id: row.id,
    to: row.recipient,
    subject: row.subject,
    text: row.textBody,
    html: row.htmlBody,
    createdAt: row.createdAt,
    sentAt: row.sentAt,
  }));
}

/** Deletes mails created before `before` (sent ones, and any never deliverable). */
export async function pruneMails(db: Database, before: Date): Promise<void> {
  await db.delete(mailOutbox).where(lt(mailOutbox.createdAt, before));
}

/** Mails not sent yet (due or waiting for a retry): the backlog an operator watches. */
export async function countUnsentMails(db: Database): Promise<number> {
  const [row] = await db.select({ unsent: count() }).from(mailOutbox).where(isNull(mailOutbox.sentAt));
  return row?.unsent ?? 0;
}
