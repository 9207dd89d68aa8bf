import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../logger.js';
import type { MailTimer } from '../../mail/outbox-sender.js';
import type { Viewer } from '../authentication.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import type { Account } from '../users.js';
import type { VerificationRequirement } from '../credentials.js';
import { EmailChange } from './email-change.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import type { StepUp } from '../second-factors/step-up.js';
import { MailQueue, type MailSettings } from './mail-queue.js';
import { MailRequests } from './mail-requests.js';
import { MailThrottle } from './mail-throttle.js';
import { PasswordReset, type ResetPasswordInput } from './password-reset.js';
import { SignInCodes, type SignInWithCodeInput } from './sign-in-codes.js';
import { EmailVerification } from './verification.js';

export type { MailSettings, ResetPasswordInput, SignInWithCodeInput };

/** Accounts by email: the family of use cases that mail a link or a code and spend it. */
export class EmailAccountUseCases {
  readonly #verification: EmailVerification;
  readonly #reset: PasswordReset;
  readonly #change: EmailChange;
  readonly #codes: SignInCodes;
  readonly #requests: MailRequests;
  /** What sign-up and login ask of this family (REQUIRE_EMAIL_VERIFICATION). */
  readonly verificationRequirement: VerificationRequirement;

  constructor(deps: {
    db: Database;
    clock: Clock;
    logger: Logger;
    sessions: SessionLifecycle;
    tokens: TokenIssuer;
    /** The login throttle: sign-in codes and an email change's current password count against it. */
    loginThrottle: Throttle;
    /** Where a reset's or a code's new session starts, or its second step is asked for. */
    gate: SignInGate;
    /** An email change of an account with a second factor needs a recent proof. */
    stepUp: StepUp;
    mail: MailSettings;
    /** The key of the sign-in codes' HMAC (SignInCodeSettings.hashKey). */
    signInCodeKey: Uint8Array | null;
    /** Wakes the outbox sender after a mail was queued. */
    wakeSender: () => void;
    /** Times the mail-request worker's passes; tests fire them by hand. */
    timer?: MailTimer | undefined;
  }) {
    const { db, clock } = deps;
    const mail = new MailQueue({ db, clock, settings: deps.mail, wake: deps.wakeSender });
    const throttle = new MailThrottle({
      db,
      clock,
      limits: { perRecipientPerHour: deps.mail.maxPerRecipientPerHour, perIpPerHour: deps.mail.maxPerIpPerHour },
    });
    this.#requests = new MailRequests({ db, clock, logger: deps.logger, wakeSender: deps.wakeSender, timer: deps.timer });
    const requests = this.#requests;
    this.#verification = new EmailVerification({ db, clock, mail, throttle, required: deps.mail.requireVerification });
    this.verificationRequirement = this.#verification;
    this.#reset = new PasswordReset({ ...deps, mail, requests, throttle });
    this.#codes = new SignInCodes({
      ...deps,
      mail,
      requests,
      mailThrottle: throttle,
      settings: { ttl: deps.mail.signInCodeTtl, hashKey: deps.signInCodeKey },
    });
    this.#change = new EmailChange({ ...deps, mail, throttle: deps.loginThrottle, mailThrottle: throttle });
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

  requestEmailChange(
    viewer: Viewer,
    input: { newEmail: string; currentPassword: string },
    client: ClientInfo,
  ): Promise<boolean> {
    return this.#change.request(viewer, input, client);
  }

  confirmEmailChange(token: string, client: ClientInfo): Promise<Account> {
    return this.#change.confirm(token, client);
  }


  requestSignInCode(email: string, client: ClientInfo): Promise<boolean> {
    return this.#codes.request(email, client);
  }

  signInWithCode(input: SignInWithCodeInput, client: ClientInfo): Promise<IssuedTokens> {
    return this.#codes.signIn(input, client);
  }

  /** Starts the worker that resolves the requests answered (by this instance or one that died). */
  start(): void {
    this.#requests.start();
  }

  /** Waits for the worker's pass under way; requests left wait for the next start. */
  stop(): Promise<void> {
    return this.#requests.stop();
  }

  /** Resolves every request answered so far: its token or code issued and its mail in the outbox. */
  settled(): Promise<void> {
    return this.#requests.settled();
  }
}
