import { runAfter, type Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { pruneEmailTokens } from '../db/email-tokens.js';
import { pruneSignInCodes } from '../db/sign-in-codes.js';
import { claimDueMails, markMailFailed, markMailSent, pruneMails, type QueuedMail } from '../db/mail-outbox.js';
import type { Logger } from '../logger.js';
import { describeFailure, type MailTransport } from './transport.js';

/** Runs `run` after `delayMs` of real time; returns the cancel function. Tests pass one they fire by hand. */
export type MailTimer = (delayMs: number, run: () => void) => () => void;

const BATCH = 20;
/** Longer than the transport's timeouts: a mail is leased to one sender until it has surely given up. */
const LEASE_MS = 120_000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 15 * 60_000;
const POLL_MS = 5_000;
/** Sent mails are erased at once; their rows (recipient, subject) stay this long for the per-recipient limit. */
const KEEP_MS = 7 * 24 * 3_600_000;
const EXPIRED_TOKEN_KEEP_MS = 24 * 3_600_000;

/**
 * Sends what the outbox holds, with retries and backoff. Each pass claims due mails under a lease
 * (one instance sends each mail), hands them to the transport, and marks them sent or failed.
 * A mail accepted by the API therefore survives a restart or an SMTP outage.
 */
export class OutboxSender {
  readonly #timer: MailTimer;
  #pass: Promise<number> | null = null;
  #again = false;
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(
    private readonly deps: {
      db: Database;
      transport: MailTransport;
      clock: Clock;
      logger: Logger;
      timer?: MailTimer | undefined;
      pollMs?: number;
    },
  ) {
    this.#timer = deps.timer ?? runAfter;
  }

  start(): void {
    this.#schedule(0);
  }

  /** A mail was just queued: send it now rather than at the next poll. */
  wake(): void {
    this.#schedule(0);
  }

  /** One pass (or joins the one running, and runs again after it); resolves with the mails sent. */
  sendDue(): Promise<number> {
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = this.#run().finally(() => {
      this.#pass = null;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.sendDue().catch(() => {});
      }
    });
    return this.#pass;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#pass?.catch(() => {});
    this.deps.transport.close();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancel?.();
    this.#cancel = this.#timer(delayMs, () => {
      this.sendDue()
        .catch((error: unknown) => this.deps.logger.warn('mail outbox pass failed', { error }))
        .finally(() => this.#schedule(this.deps.pollMs ?? POLL_MS));
    });
  }

  async #run(): Promise<number> {
    let sent = 0;
    for (;;) {
      const now = this.deps.clock();
      const mails = await claimDueMails(this.deps.db, {
        now,
        leaseUntil: new Date(now.getTime() + LEASE_MS),
        limit: BATCH,
      });
      for (const mail of mails) sent += (await this.#deliver(mail)) ? 1 : 0;
      if (mails.length < BATCH || this.#stopped) break;
    }
    const now = this.deps.clock().getTime();
    await pruneMails(this.deps.db, new Date(now - KEEP_MS));
    // An expired link token or code is of no use: kept a day past its expiry, then deleted.
    await pruneEmailTokens(this.deps.db, new Date(now - EXPIRED_TOKEN_KEEP_MS));
    await pruneSignInCodes(this.deps.db, new Date(now - EXPIRED_TOKEN_KEEP_MS));
    return sent;
  }

  async #deliver(mail: QueuedMail): Promise<boolean> {
    try {
      await this.deps.transport.send(mail);
    } catch (error) {
      const delay = Math.min(FIRST_RETRY_MS * 2 ** (mail.attempts - 1), MAX_RETRY_MS);
      const failure = describeFailure(error);
      // Never the mail itself: its body holds a live token.
      this.deps.logger.warn('mail delivery failed', {
        mailId: mail.id,
        attempt: mail.attempts,
        failure,
        retryInMs: delay,
      });
      await markMailFailed(this.deps.db, mail.id, {
        retryAt: new Date(this.deps.clock().getTime() + delay),
        error: failure,
      });
      return false;
    }
    await markMailSent(this.deps.db, mail.id, this.deps.clock());
    return true;
  }
}
