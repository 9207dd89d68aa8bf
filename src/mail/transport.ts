import { createTransport } from 'nodemailer';
import type { OutgoingMail } from '../db/mail-outbox.js';

/** Where the outbox sender hands mails: SMTP in production, an SMTP server of their own in tests. */
export interface MailTransport {
  /** Resolves once the server has accepted the mail; rejects with a DeliveryFailure-able error. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/**
 * nodemailer's SMTP transport from SMTP_URL (smtp:// with STARTTLS when offered, smtps:// for TLS
 * from the start). Timeouts shorter than the sender's lease, so a hung server cannot make two
 * instances send the same mail.
 */
export function smtpTransport(input: { url: string; from: string }): MailTransport {
  const transporter = createTransport(
    { url: input.url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from: input.from },
  );
  return {
    async send(mail) {
      await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
    close: () => transporter.close(),
  };
}

/**
 * What of a delivery failure may be logged and stored: nodemailer's error code and the SMTP reply
 * code, never its message (a server may echo the recipient or parts of the mail, link included).
 */
export function describeFailure(error: unknown): string {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  const parts = [
    typeof code === 'string' ? code : 'ERROR',
    typeof responseCode === 'number' ? String(responseCode) : null,
  ];
  return parts.filter(Boolean).join(' ');
}
