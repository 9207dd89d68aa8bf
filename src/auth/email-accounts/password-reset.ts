import { eq } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { users } from '../../db/schema.js';
import { AuthError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { passwordResetMail } from '../../mail/templates.js';
import { checkDeviceName } from '../device-name.js';
import type { IssuedTokens } from '../issued-tokens.js';
import type { DeliveryChoice } from '../second-factors/mfa-tokens.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import { hashPassword } from '../passwords.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import {
  findCredentials,
  findUserById,
  markEmailVerified,
  normaliseEmail,
  normaliseNewPassword,
  updatePasswordHash,
} from '../users.js';
import type { MailQueue } from './mail-queue.js';

export interface ResetPasswordInput {
  readonly token: string;
  readonly newPassword: string;
  readonly deviceName?: string | null | undefined;
  /** How the client wants its refresh token: bound to the mfaToken when a second step is needed. */
  readonly delivery?: DeliveryChoice | null | undefined;
}

/** Recovering an account: a link mailed on request, spent to set a new password. */
export class PasswordReset {
  /** Requests answered but not yet written to the outbox: awaited on stop. */
  readonly #deferred = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      mail: MailQueue;
      sessions: SessionLifecycle;
      gate: SignInGate;
      logger: Logger;
    },
  ) {}

  /**
   * Always true, in the same time whether the account exists: the lookup and the mail are done
   * after answering. Over the per-recipient limit nothing is sent, silently (an error would tell
   * that the account exists).
   */
  requestReset(rawEmail: string, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const email = normaliseEmail(rawEmail);
    const work = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#queueReset(email, client))
      .catch((error: unknown) => this.deps.logger.error('password reset request failed', { error }))
      .finally(() => this.#deferred.delete(work));
    this.#deferred.add(work);
    return Promise.resolve(true);
  }

  /** Resolves when the requests already answered have been written (or failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.#deferred]);
  }

  async #queueReset(email: string, client: ClientInfo): Promise<void> {
    const user = await findCredentials(this.deps.db, email);
    if (!user) return;
    await this.deps.mail.transaction(async (tx) => {
      const result = await this.deps.mail.queueLink(tx, {
        userId: user.id,
        to: user.email,
        purpose: 'RESET_PASSWORD',
        path: '/reset-password',
        compose: passwordResetMail,
      });
      if (result.kind === 'queued') {
        await recordAuthEvent(tx, { type: 'PASSWORD_RESET_REQUESTED', userId: user.id, client, at: this.deps.clock() });
      }
    });
  }

  /**
   * Sets the new password, marks the address verified, ends every session of the user
   * (PASSWORD_RESET) in the transaction that spends the token, then signs in one new session
   * through the sign-in gate: a user with a second factor gets MFA_REQUIRED, as at login (a reset
   * proves the mailbox, not the second factor). A password refused by the strength rules leaves the token unspent.
   */
  async resetPassword(input: ResetPasswordInput, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const password = await normaliseNewPassword(input.newPassword, 'newPassword');
    const passwordHash = await hashPassword(password);
    let userId: string | undefined;
    let passwordVersion = 0;
    await this.deps.sessions.endAllAlong(
      'PASSWORD_RESET',
      async (tx) => {
        const now = this.deps.clock();
        const spent = await this.deps.mail.tokens.spend(tx, {
          token: input.token,
          purpose: 'RESET_PASSWORD',
          now,
          boundTo: 'account address',
        });
        if (!spent) throw new AuthError('INVALID_EMAIL_TOKEN');
        // A reset overrides whatever password is current, and bumps its version like any change: a login
        // checked against the old password and still in flight then signs nobody in.
        const [current] = await tx
          .select({ passwordVersion: users.passwordVersion })
          .from(users)
          .where(eq(users.id, spent.userId))
          .for('no key update');
        if (!current) throw new AuthError('INVALID_EMAIL_TOKEN');
        await updatePasswordHash(tx, { userId: spent.userId, passwordHash, checkedVersion: current.passwordVersion });
        passwordVersion = current.passwordVersion + 1;
        await markEmailVerified(tx, spent.userId);
        await recordAuthEvent(tx, { type: 'PASSWORD_RESET', userId: spent.userId, client, at: now });
        userId = spent.userId;
        return spent.userId;
      },
      client,
    );
    const user = await findUserById(this.deps.db, userId!);
    if (!user) throw new AuthError('INVALID_EMAIL_TOKEN');
    return this.deps.gate.signIn({
      user,
      factor: 'pwd',
      deviceName,
      delivery: input.delivery ?? 'BODY',
      // Only for the password just set: another reset or change committed meanwhile signs nobody in.
      passwordVersion,
      client,
    });
  }
}
