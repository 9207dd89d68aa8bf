import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import { verificationMail } from '../../mail/templates.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import type { Viewer } from '../authentication.js';
import type { ClientInfo } from '../sessions.js';
import { findUserById, markEmailVerified, type Account } from '../users.js';
import type { MailQueue } from './mail-queue.js';

/** Proving an address: a link mailed to it, spent to mark it verified. */
export class EmailVerification {
  constructor(private readonly deps: { db: Database; clock: Clock; mail: MailQueue }) {}

  /** Mails a verification link to the caller's address; true, and nothing sent, if already verified. */
  async request(viewer: Viewer, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const user = await findUserById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    if (user.emailVerified) return true;
    const queued = await this.deps.mail.transaction(async (tx) => {
      const result = await this.deps.mail.queueLink(tx, {
        userId: user.id,
        to: user.email,
        purpose: 'VERIFY_EMAIL',
        path: '/verify-email',
        compose: verificationMail,
      });
      if (result.kind === 'queued') {
        const event = { userId: user.id, sessionId: viewer.sessionId, client, at: this.deps.clock() };
        await recordAuthEvent(tx, { type: 'EMAIL_VERIFICATION_REQUESTED', ...event });
      }
      return result;
    });
    // The caller's own address: its limit tells nothing about other accounts.
    if (queued.kind === 'limited') throw new AuthError('RATE_LIMITED', undefined, { retryAfter: queued.retryAfter });
    return true;
  }

  /** Spends a verification token and marks its address verified; no sign-in needed. */
  async verify(token: string, client: ClientInfo): Promise<Account> {
    const userId = await this.deps.db.transaction(async (tx) => {
      const now = this.deps.clock();
      const spent = await this.deps.mail.tokens.spend(tx, {
        token,
        purpose: 'VERIFY_EMAIL',
        now,
        boundTo: 'account address',
      });
      if (!spent) return null;
      const newlyVerified = await markEmailVerified(tx, spent.userId);
      await recordAuthEvent(tx, { type: 'EMAIL_VERIFIED', userId: spent.userId, client, at: now });
      if (newlyVerified !== null) {
        await queueWebhookEvents(tx, 'email.verified', [{ at: now, data: { userId: spent.userId, email: newlyVerified } }]);
      }
      return spent.userId;
    });
    const user = userId ? await findUserById(this.deps.db, userId) : null;
    if (!user) throw new AuthError('INVALID_EMAIL_TOKEN');
    return user;
  }
}
