import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { supersedeEmailTokens } from '../../db/email-tokens.js';
import { isUniqueViolation } from '../../db/errors.js';
import { AuthError, badInput } from '../../errors.js';
import { emailChangeMail, emailChangeNoticeMail } from '../../mail/templates.js';
import type { Viewer } from '../authentication.js';
import { checkCurrentPassword } from '../current-password.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import { changeEmail, findCredentials, findUserById, normaliseEmail, type Account } from '../users.js';
import type { StepUp } from '../second-factors/step-up.js';
import type { MailQueue } from './mail-queue.js';
import type { MailThrottle } from './mail-throttle.js';

/**
 * Changing the address: asked with the current password, proven by a link mailed to the new
 * address (the old one gets a notice without a link), confirmed from any device.
 */
export class EmailChange {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      mail: MailQueue;
      sessions: SessionLifecycle;
      /** The login throttle, which counts a wrong current password. */
      throttle: Throttle;
      mailThrottle: MailThrottle;
      stepUp: StepUp;
    },
  ) {}

  /**
   * Mails the link to the new address and the notice to the old one, with the token, in one
   * transaction. An address another account has answers true too, and nothing is sent: the answer,
   * the audit log and the mail limits (per new address, account and IP) are the same either way.
   */
  async request(viewer: Viewer, input: { newEmail: string; currentPassword: string }, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    // A second factor protects the account: a password alone (a stolen one) must not move it elsewhere.
    await this.deps.stepUp.requireRecentIfProtected(viewer);
    const newEmail = normaliseEmail(input.newEmail, 'newEmail');
    const user = await checkCurrentPassword(this.deps, viewer, input.currentPassword, client);
    if (newEmail === user.email) throw badInput('newEmail', 'This is the address of the account already.');
    // Taken before the address is looked up: a taken one counts as a free one, so RATE_LIMITED tells nothing.
    await this.deps.mailThrottle.take({ recipient: newEmail, ip: client.ip, userId: user.id });
    await this.deps.mail.transaction(async (tx) => {
      const now = this.deps.clock();
      await recordAuthEvent(tx, { type: 'EMAIL_CHANGE_REQUESTED', userId: user.id, sessionId: viewer.sessionId, client, at: now });
      // A newer request replaces the older link whether or not this one sends a new one.
      await supersedeEmailTokens(tx, { userId: user.id, purpose: 'CHANGE_EMAIL', now });
      if (await findCredentials(tx, newEmail)) return;
      await this.deps.mail.queueLink(tx, {
        userId: user.id,
        to: newEmail,
        purpose: 'CHANGE_EMAIL',
        path: '/confirm-email-change',
        compose: emailChangeMail,
        sessionId: viewer.sessionId,
      });
      await this.deps.mail.queueNotice(tx, user.email, emailChangeNoticeMail({ newEmail }));
    });
    return true;
  }

  /**
   * Spends the token, gives the account its new address (verified), and ends the user's other
   * sessions (EMAIL_CHANGED), all in one transaction; no sign-in needed. The session that asked
   * stays signed in, unless it has ended. An address taken since the request: EMAIL_TAKEN, and the
   * token is left unspent.
   */
  async confirm(token: string, client: ClientInfo): Promise<Account> {
    let userId: string | undefined;
    try {
      await this.deps.sessions.endAllAlong(
        'EMAIL_CHANGED',
        async (tx) => {
          const now = this.deps.clock();
          const spent = await this.deps.mail.tokens.spend(tx, { token, purpose: 'CHANGE_EMAIL', now, boundTo: 'new address' });
          if (!spent) throw new AuthError('INVALID_EMAIL_TOKEN');
          if (!(await changeEmail(tx, { userId: spent.userId, email: spent.email }))) throw new AuthError('EMAIL_TAKEN');
          await recordAuthEvent(tx, { type: 'EMAIL_CHANGED', userId: spent.userId, sessionId: spent.sessionId, client, at: now });
          userId = spent.userId;
          return spent.sessionId ? { userId: spent.userId, keepSessionId: spent.sessionId } : spent.userId;
        },
        client,
      );
    } catch (error) {
      // A sign-up took the address between our check and our write: the same answer, nothing written.
      if (isUniqueViolation(error)) throw new AuthError('EMAIL_TAKEN');
      throw error;
    }
    const user = await findUserById(this.deps.db, userId!);
    if (!user) throw new AuthError('INVALID_EMAIL_TOKEN');
    return user;
  }
}
