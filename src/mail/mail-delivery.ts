import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { listRecentMails, type MailboxEntry } from '../db/mail-outbox.js';
import type { Logger } from '../logger.js';
import { OutboxSender, type MailTimer } from './outbox-sender.js';
import { smtpTransport } from './transport.js';

export type { MailboxEntry, MailTimer };

const MAILBOX_SIZE = 50;

/** How mails leave the outbox: by SMTP, or into the development mailbox, or not at all (MAIL=disabled). */
export interface MailDelivery {
  /** A mail was queued: send it soon. */
  wake(): void;
  /** Sends the due mails now; resolves with how many were sent (0 without SMTP). */
  sendDue(): Promise<number>;
  /** The newest mails of the outbox, when the development mailbox is on (no SMTP_URL outside production). */
  readonly devMailbox: (() => Promise<MailboxEntry[]>) | null;
  start(): void;
  stop(): Promise<void>;
}

export function createMailDelivery(
  config: Pick<Config, 'env' | 'mail'>,
  input: { db: Database; clock: Clock; logger: Logger; timer?: MailTimer | undefined },
): MailDelivery {
  const settings = config.mail;
  const { db } = input;
  if (settings.enabled && settings.smtpUrl) {
    const transport = smtpTransport({ url: settings.smtpUrl, from: settings.from });
    const sender = new OutboxSender({ db, transport, clock: input.clock, logger: input.logger, timer: input.timer });
    return {
      wake: () => sender.wake(),
      sendDue: () => sender.sendDue(),
      devMailbox: null,
      start: () => sender.start(),
      stop: () => sender.stop(),
    };
  }
  // Production without SMTP_URL is refused by the configuration unless mail is disabled.
  const mailbox = settings.enabled && config.env !== 'production';
  return {
    wake: () => {},
    sendDue: () => Promise.resolve(0),
    devMailbox: mailbox ? () => listRecentMails(db, MAILBOX_SIZE) : null,
    start: () => {},
    stop: () => Promise.resolve(),
  };
}
