import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll } from 'vitest';
import { eventually } from './eventually.js';

/** A mail as a real SMTP server received and mailparser parsed it. */
export interface ReceivedMail {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** The first link to our server in the text part. */
  readonly link: string | null;
  /** The token of that link. */
  readonly token: string | null;
}

export interface TestSmtpServer {
  /** SMTP_URL pointing at it. */
  readonly url: string;
  readonly mails: ReceivedMail[];
  /** Stops listening (connections refused) until `up`. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Waits (real time) for the next mail to this address that arrives after `after` mails to it. */
  mailTo(address: string, options?: { index?: number; timeoutMs?: number }): Promise<ReceivedMail>;
  mailsTo(address: string): ReceivedMail[];
  close(): Promise<void>;
}

/** A real SMTP server in the test process, no TLS, no authentication: what nodemailer talks to. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const mails: ReceivedMail[] = [];
  const options = {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream: NodeJS.ReadableStream, _session: unknown, callback: (error?: Error | null) => void) {
      simpleParser(stream as never).then(
        (parsed) => {
          const text = parsed.text ?? '';
          const link = /https?:\/\/\S+\?token=\S+/.exec(text)?.[0] ?? null;
          const to = Array.isArray(parsed.to) ? parsed.to[0]?.text : parsed.to?.text;
          mails.push({
            to: to ?? '',
            from: parsed.from?.text ?? '',
            subject: parsed.subject ?? '',
            text,
            html: typeof parsed.html === 'string' ? parsed.html : '',
            link,
            token: link ? new URL(link).searchParams.get('token') : null,
          });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  };
  let server = new SMTPServer(options);
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      const net = server.listen(port, '127.0.0.1', () => resolve((net.address() as AddressInfo).port));
    });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const port = await listen(0);
  const mailsTo = (address: string) => mails.filter((mail) => mail.to === address);
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    down: close,
    async up() {
      server = new SMTPServer(options);
      await listen(port);
    },
    mailsTo,
    async mailTo(address, { index = 0, timeoutMs = 5000 } = {}) {
      await eventually(() => mailsTo(address).length > index, timeoutMs);
      return mailsTo(address)[index]!;
    },
    close,
  };
}

/** An SMTP server for the enclosing file: started in beforeAll, closed in afterAll. */
export function useSmtpServer(): () => TestSmtpServer {
  let server: TestSmtpServer | undefined;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(() => server?.close());
  return () => server!;
}
