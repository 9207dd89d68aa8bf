import { eq } from 'drizzle-orm';
import type { Clock } from '../../clock.js';
import { countAuthEvents, recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { supersedeEmailTokens } from '../../db/email-tokens.js';
import { isUniqueViolation } from '../../db/errors.js';
import { users } from '../../db/schema.js';
import { AuthError, badInput } from '../../errors.js';
import { emailChangeMail, emailChangeNoticeMail } from '../../mail/templates.js';
import type { Viewer } from '../authentication.js';
import { checkCurrentPassword } from '../current-password.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import { changeEmail, findCredentials, findUserById, normaliseEmail, type Account } from '../users.js';
import type { MailQueue } from './mail-queue.js';

const HOUR_MS = 3_600_000;

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
      throttle: Throttle;
      maxRequestsPerHour: number;
    },
  ) {}

  /**
   * Mails the link to the new address and the notice to the old one, with the token, in one
   * transaction. An address another account has answers true too, and nothing is sent: the answer,
   * the audit log and the per-account limit are the same either way.
   */
  async request(viewer: Viewer, input: { newEmail: string; currentPassword: string }, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const newEmail = normaliseEmail(input.newEmail, 'newEmail');
    const user = await checkCurrentPassword(this.deps, viewer, input.currentPassword, client);
    if (newEmail === user.email) throw badInput('newEmail', 'This is the address of the account already.');
    const limited = await this.deps.mail.transaction(async (tx) => {
      const now = this.deps.clock();
      // The account's requests one at a time, so that two at once cannot both pass the count.
      await tx.select({ id: users.id }).from(users).where(eq(users.id, user.id)).for('no key update');
      // Counted per account, by request rather than by mail sent: a taken address counts as a free one.
      const recent = await countAuthEvents(tx, {
        userId: user.id,
        type: 'EMAIL_CHANGE_REQUESTED',
        since: new Date(now.getTime() - HOUR_MS),
      });
      if (recent.count >= this.deps.maxRequestsPerHour) {
        const freesAt = (recent.oldest?.getTime() ?? now.getTime()) + HOUR_MS;
        return Math.max(1, Math.ceil((freesAt - now.getTime()) / 1000));
      }
      await recordAuthEvent(tx, { type: 'EMAIL_CHANGE_REQUESTED', userId: user.id, sessionId: viewer.sessionId, client, at: now });
      // A newer request replaces the older link whether or not this one sends a new one.
      await supersedeEmailTokens(tx, { userId: user.id, purpose: 'CHANGE_EMAIL', now });
      if (await findCredentials(tx, newEmail)) return null;
      const queued = await this.deps.mail.queueLink(tx, {
        userId: user.id,
        to: newEmail,
        purpose: 'CHANGE_EMAIL',
        path: '/confirm-email-change',
        compose: emailChangeMail,
        sessionId: viewer.sessionId,
      });
      // Over the new address's own limit: nothing sent, silently (RATE_LIMITED would tell it is free).
      if (queued.kind === 'queued') await this.deps.mail.queueNotice(tx, user.email, emailChangeNoticeMail({ newEmail }));
      return null;
    });
    // The caller's own requests: the limit tells nothing about other accounts.
    if (limited !== null) throw new AuthError('RATE_LIMITED', undefined, { retryAfter: limited });
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
