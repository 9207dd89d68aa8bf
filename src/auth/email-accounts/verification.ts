import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database, Executor } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import { verificationMail } from '../../mail/templates.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import type { Viewer } from '../authentication.js';
import type { ClientInfo } from '../sessions.js';
import { findUserById, markEmailVerified, type Account, type User } from '../users.js';
import type { MailQueue } from './mail-queue.js';
import type { MailThrottle } from './mail-throttle.js';

/** Proving an address: a link mailed to it, spent to mark it verified. */
export class EmailVerification {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      mail: MailQueue;
      throttle: MailThrottle;
      /** REQUIRE_EMAIL_VERIFICATION: no password sign-in (sign-up, login) before the address is proven. */
      required: boolean;
    },
  ) {}

  get required(): boolean {
    return this.deps.required;
  }

  /**
   * Runs `work` (which yields the account to mail: one just created, or one whose login was refused
   * for want of a proven address) and queues a verification link to it in the same transaction.
   * Beyond the mail limits the link is left out silently: the caller answers EMAIL_NOT_VERIFIED either way.
   */
  async mailLinkAlong(recipient: string, client: ClientInfo, work: (tx: Executor) => Promise<User>): Promise<void> {
    // Before the transaction: the limit's counters are written on a connection of their own.
    const mayMail = this.deps.mail.enabled && (await this.deps.throttle.tryTake({ recipient, ip: client.ip }));
    await this.deps.mail.transaction(async (tx) => {
      const user = await work(tx);
      if (!mayMail) return;
      await this.#queueLink(tx, user);
      await recordAuthEvent(tx, { type: 'EMAIL_VERIFICATION_REQUESTED', userId: user.id, client, at: this.deps.clock() });
    });
  }

  #queueLink(tx: Executor, user: User): Promise<void> {
    return this.deps.mail.queueLink(tx, {
      userId: user.id,
      to: user.email,
      purpose: 'VERIFY_EMAIL',
      path: '/verify-email',
      compose: verificationMail,
    });
  }

  /** Mails a verification link to the caller's address; true, and nothing sent, if already verified. */
  async request(viewer: Viewer, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const user = await findUserById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    if (user.emailVerified) return true;
    // The caller's own address: its limit tells nothing about other accounts.
    await this.deps.throttle.take({ recipient: user.email, ip: client.ip, userId: user.id });
    await this.deps.mail.transaction(async (tx) => {
      await this.#queueLink(tx, user);
      const event = { userId: user.id, sessionId: viewer.sessionId, client, at: this.deps.clock() };
      await recordAuthEvent(tx, { type: 'EMAIL_VERIFICATION_REQUESTED', ...event });
    });
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
