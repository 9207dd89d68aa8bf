import { runAfter, type Clock } from '../../clock.js';
import type { Database, Executor } from '../../db/client.js';
import {
  claimMailRequest,
  deleteMailRequest,
  insertMailRequest,
  type MailRequest,
  type MailRequestKind,
} from '../../db/mail-requests.js';
import type { Logger } from '../../logger.js';
import type { MailTimer } from '../../mail/outbox-sender.js';
import type { ClientInfo } from '../sessions.js';
import { findCredentials, type Credentials } from '../users.js';

export type { MailRequestKind };

/** Issues what the request asks for to this account (token or code, and its mail) in `tx`. */
export type MailRequestHandler = (tx: Executor, user: Credentials, client: ClientInfo) => Promise<void>;

/** How often requests left behind (by a crash, an outage, another instance) are looked for. */
const POLL_MS = 5_000;

/**
 * The requests of the "always true" mutations, made durable and equal in time. Answering writes
 * one row, whether or not an account has the address; this worker resolves the rows afterwards, one
 * transaction each: it looks up the account, issues the token or code and writes its mail to the
 * outbox (nothing for an unknown address), and deletes the row. A crash anywhere before that
 * commit leaves the row for the next pass, of this instance after its restart or of another one.
 */
export class MailRequests {
  readonly #handlers = new Map<MailRequestKind, MailRequestHandler>();
  readonly #timer: MailTimer;
  #pass: Promise<void> | null = null;
  #again = false;
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      logger: Logger;
      /** Wakes the outbox sender after a resolved request's mail was committed. */
      wakeSender: () => void;
      /** Times the passes (at once after a request, then a poll); tests pass one they fire by hand. */
      timer?: MailTimer | undefined;
    },
  ) {
    this.#timer = deps.timer ?? runAfter;
  }

  handle(kind: MailRequestKind, handler: MailRequestHandler): void {
    this.#handlers.set(kind, handler);
  }

  /** Records a request (the same statements for every address); the worker is woken after commit. */
  async record(kind: MailRequestKind, email: string, client: ClientInfo): Promise<void> {
    await insertMailRequest(this.deps.db, { kind, email, ip: client.ip, userAgent: client.userAgent, now: this.deps.clock() });
    this.#schedule(0);
  }

  start(): void {
    this.#schedule(0);
  }

  /** Waits for the pass under way, and starts none: what is left waits for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#pass?.catch(() => {});
  }

  /** Resolves every request recorded so far (joining the pass under way, then one more). */
  async settled(): Promise<void> {
    await this.#pass?.catch(() => {});
    await this.#runPass();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancel?.();
    this.#cancel = this.#timer(delayMs, () => {
      this.#runPass()
        .catch((error: unknown) => this.deps.logger.warn('mail request pass failed', { error }))
        .finally(() => this.#schedule(POLL_MS));
    });
  }

  #runPass(): Promise<void> {
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = this.#run().finally(() => {
      this.#pass = null;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.#runPass().catch(() => {});
      }
    });
    return this.#pass;
  }

  async #run(): Promise<void> {
    for (;;) {
      const resolved = await this.deps.db.transaction(async (tx) => {
        const request = await claimMailRequest(tx);
        if (!request) return false;
        await this.#resolve(tx, request);
        await deleteMailRequest(tx, request.id);
        return true;
      });
      if (!resolved || this.#stopped) return;
      this.deps.wakeSender();
    }
  }

  async #resolve(tx: Executor, request: MailRequest): Promise<void> {
    const user = await findCredentials(tx, request.email);
    // No account: the request is dropped, and nothing tells the requester.
    if (!user) return;
    const handler = this.#handlers.get(request.kind);
    if (!handler) throw new Error(`no handler for mail requests of kind ${request.kind}`);
    await handler(tx, user, { ip: request.ip, userAgent: request.userAgent });
  }
}
