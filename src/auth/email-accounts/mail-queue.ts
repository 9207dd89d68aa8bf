import { sql } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import type { Database, Executor } from '../../db/client.js';
import { countMailsTo, enqueueMail } from '../../db/mail-outbox.js';
import { AuthError } from '../../errors.js';
import type { ComposedMail, LinkMail } from '../../mail/templates.js';
import { EmailTokens, type EmailTokenLifetimes, type EmailTokenPurpose } from './email-tokens.js';

export interface MailSettings {
  /** MAIL=disabled: every mail-sending mutation answers SERVICE_UNAVAILABLE. */
  readonly enabled: boolean;
  /** Base of the links, without a trailing slash. */
  readonly publicUrl: string;
  readonly tokenTtl: EmailTokenLifetimes;
  readonly maxPerRecipientPerHour: number;
}

const HOUR_MS = 3_600_000;

/** What a queued link mail is: to whom, for what, which page of ours opens it. */
export interface LinkMailRequest {
  readonly userId: string;
  readonly to: string;
  readonly purpose: EmailTokenPurpose;
  /** The page the link opens, e.g. '/verify-email'. */
  readonly path: string;
  readonly compose: (link: LinkMail) => ComposedMail;
  /** The session that asked, bound to the token (an email change keeps it signed in). */
  readonly sessionId?: string | undefined;
}

export type QueueResult = { readonly kind: 'queued' } | { readonly kind: 'limited'; readonly retryAfter: number };

/**
 * Issues a link's token and writes its mail to the outbox in one transaction, within the
 * per-recipient limit; the outbox sender is woken after commit.
 */
export class MailQueue {
  readonly tokens: EmailTokens;

  constructor(private readonly deps: { db: Database; clock: Clock; settings: MailSettings; wake: () => void }) {
    this.tokens = new EmailTokens(deps.settings.tokenTtl);
  }

  /** Refuses at once when mail is turned off, before anything is looked up. */
  assertEnabled(): void {
    if (!this.deps.settings.enabled) throw new AuthError('SERVICE_UNAVAILABLE', 'Mail is turned off on this server.');
  }

  /** Runs `work` in a transaction, then wakes the sender. */
  async transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const result = await this.deps.db.transaction(work);
    this.deps.wake();
    return result;
  }

  /** A mail without a link (a notice), outside the per-recipient limit: the caller bounds how often it is sent. */
  async queueNotice(tx: Executor, to: string, mail: ComposedMail): Promise<void> {
    await enqueueMail(tx, { to, ...mail }, this.deps.clock());
  }

  async queueLink(tx: Executor, request: LinkMailRequest): Promise<QueueResult> {
    const now = this.deps.clock();
    // One request per recipient at a time, so that two at once cannot both pass the count.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`mail:${request.to}`}, 0))`);
    const recent = await countMailsTo(tx, request.to, new Date(now.getTime() - HOUR_MS));
    if (recent.count >= this.deps.settings.maxPerRecipientPerHour) {
      const freesAt = (recent.oldest?.getTime() ?? now.getTime()) + HOUR_MS;
      return { kind: 'limited', retryAfter: Math.max(1, Math.ceil((freesAt - now.getTime()) / 1000)) };
    }
    const { token, expiresAt } = await this.tokens.issue(tx, {
      userId: request.userId,
      purpose: request.purpose,
      email: request.to,
      sessionId: request.sessionId,
      now,
    });
    const link = `${this.deps.settings.publicUrl}${request.path}?token=${token}`;
    await enqueueMail(tx, { to: request.to, ...request.compose({ link, expiresAt }) }, now);
    return { kind: 'queued' };
  }
}
