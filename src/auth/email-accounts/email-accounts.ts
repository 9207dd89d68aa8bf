import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../logger.js';
import type { Viewer } from '../authentication.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Account } from '../users.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import { MailQueue, type MailSettings } from './mail-queue.js';
import { PasswordReset, type ResetPasswordInput } from './password-reset.js';
import { EmailVerification } from './verification.js';

export type { MailSettings, ResetPasswordInput };

/** Accounts by email: the family of use cases that mail a link and spend it. */
export class EmailAccountUseCases {
  readonly #verification: EmailVerification;
  readonly #reset: PasswordReset;

  constructor(deps: {
    db: Database;
    clock: Clock;
    logger: Logger;
    sessions: SessionLifecycle;
    tokens: TokenIssuer;
    /** Where a reset's new session starts, or its second step is asked for. */
    gate: SignInGate;
    mail: MailSettings;
    /** Wakes the outbox sender after a mail was queued. */
    wakeSender: () => void;
  }) {
    const mail = new MailQueue({ db: deps.db, clock: deps.clock, settings: deps.mail, wake: deps.wakeSender });
    this.#verification = new EmailVerification({ db: deps.db, clock: deps.clock, mail });
    this.#reset = new PasswordReset({ ...deps, mail });
  }

  requestEmailVerification(viewer: Viewer, client: ClientInfo): Promise<boolean> {
    return this.#verification.request(viewer, client);
  }

  verifyEmail(token: string, client: ClientInfo): Promise<Account> {
    return this.#verification.verify(token, client);
  }

  requestPasswordReset(email: string, client: ClientInfo): Promise<boolean> {
    return this.#reset.requestReset(email, client);
  }

  resetPassword(input: ResetPasswordInput, client: ClientInfo): Promise<IssuedTokens> {
    return this.#reset.resetPassword(input, client);
  }

  /** Resolves when the requests already answered (their mails queued after answering) are written. */
  settled(): Promise<void> {
    return this.#reset.settled();
  }
}
