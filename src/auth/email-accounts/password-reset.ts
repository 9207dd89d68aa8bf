import { eq } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database, Executor } from '../../db/client.js';
import { users } from '../../db/schema.js';
import { AuthError } from '../../errors.js';
import { passwordResetMail } from '../../mail/templates.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import { checkDeviceName } from '../device-name.js';
import type { IssuedTokens } from '../issued-tokens.js';
import type { DeliveryChoice } from '../second-factors/mfa-tokens.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import { hashPassword } from '../passwords.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import {
  findUserById,
  markEmailVerified,
  normaliseEmail,
  normaliseNewPassword,
  updatePasswordHash,
  type Credentials,
} from '../users.js';
import type { MailQueue } from './mail-queue.js';
import type { MailRequests } from './mail-requests.js';
import type { MailThrottle } from './mail-throttle.js';

export interface ResetPasswordInput {
  readonly token: string;
  readonly newPassword: string;
  readonly deviceName?: string | null | undefined;
  /** How the client wants its refresh token: bound to the mfaToken when a second step is needed. */
  readonly delivery?: DeliveryChoice | null | undefined;
}

/** Recovering an account: a link mailed on request, spent to set a new password. */
export class PasswordReset {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      mail: MailQueue;
      requests: MailRequests;
      throttle: MailThrottle;
      sessions: SessionLifecycle;
      gate: SignInGate;
    },
  ) {
    deps.requests.handle('RESET_PASSWORD', (tx, user, client) => this.#queueReset(tx, user, client));
  }

  /**
   * Always true, in the same time whether the account exists: one row is written, and the worker
   * looks the account up and queues the mail after answering (MailRequests). RATE_LIMITED is
   * counted by the address as typed, known or not.
   */
  async requestReset(rawEmail: string, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const email = normaliseEmail(rawEmail);
    await this.deps.throttle.take({ recipient: email, ip: client.ip });
    await this.deps.requests.record('RESET_PASSWORD', email, client);
    return true;
  }

  async #queueReset(tx: Executor, user: Credentials, client: ClientInfo): Promise<void> {
    await this.deps.mail.queueLink(tx, {
      userId: user.id,
      to: user.email,
      purpose: 'RESET_PASSWORD',
      path: '/reset-password',
      compose: passwordResetMail,
    });
    await recordAuthEvent(tx, { type: 'PASSWORD_RESET_REQUESTED', userId: user.id, client, at: this.deps.clock() });
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
        // The link reached the address: proven, if it was not yet.
        const newlyVerified = await markEmailVerified(tx, spent.userId);
        if (newlyVerified !== null) {
          await queueWebhookEvents(tx, 'email.verified', [{ at: now, data: { userId: spent.userId, email: newlyVerified } }]);
        }
        await recordAuthEvent(tx, { type: 'PASSWORD_RESET', userId: spent.userId, client, at: now });
        await queueWebhookEvents(tx, 'password.changed', [{ at: now, data: { userId: spent.userId, via: 'RESET' } }]);
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
