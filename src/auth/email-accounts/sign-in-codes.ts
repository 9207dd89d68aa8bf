import { createHmac, randomInt } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database, Executor } from '../../db/client.js';
import { enqueueMail } from '../../db/mail-outbox.js';
import { insertSignInCode, lockLiveSignInCode, recordWrongTry, spendSignInCode } from '../../db/sign-in-codes.js';
import { AuthError } from '../../errors.js';
import { signInCodeMail } from '../../mail/templates.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import { constantTimeEqual } from '../crypto.js';
import { checkDeviceName } from '../device-name.js';
import type { IssuedTokens } from '../issued-tokens.js';
import type { DeliveryChoice } from '../second-factors/mfa-tokens.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import { findCredentials, markEmailVerified, normaliseEmail, type Credentials } from '../users.js';
import type { MailQueue } from './mail-queue.js';
import type { MailRequests } from './mail-requests.js';
import type { MailThrottle } from './mail-throttle.js';

export interface SignInWithCodeInput {
  readonly email: string;
  readonly code: string;
  readonly deviceName?: string | null | undefined;
  /** How the client wants its refresh token: bound to the mfaToken when a second step is needed. */
  readonly delivery?: DeliveryChoice | null | undefined;
}

export interface SignInCodeSettings {
  /** Seconds a code lives (SIGN_IN_CODE_TTL). */
  readonly ttl: number;
  /**
   * The key of the codes' HMAC, kept outside the database (derived from KEY_ENCRYPTION_KEY or
   * JWT_PRIVATE_KEY); null when the server has no such secret (docs/security.md).
   */
  readonly hashKey: Uint8Array | null;
}

/** Wrong tries a code survives; the fifth kills it. */
export const MAX_WRONG_TRIES = 5;
const CODE_PATTERN = /^[0-9]{6}$/;

/**
 * Signing in with a six-digit code mailed on request. A code is stored only as a keyed hash, lives
 * SIGN_IN_CODE_TTL, dies at its fifth wrong try, and is replaced by a newer one. Every try counts
 * against the account's login throttle, as a password would.
 */
export class SignInCodes {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      mail: MailQueue;
      requests: MailRequests;
      mailThrottle: MailThrottle;
      loginThrottle: Throttle;
      sessions: SessionLifecycle;
      gate: SignInGate;
      settings: SignInCodeSettings;
    },
  ) {
    deps.requests.handle('SIGN_IN_CODE', (tx, user, client) => this.#issue(tx, user, client));
  }

  /**
   * Always true, in the same time whether the account exists: one row is written, and the worker
   * issues the code after answering (MailRequests). RATE_LIMITED is counted by the address as
   * typed, known or not.
   */
  async request(rawEmail: string, client: ClientInfo): Promise<boolean> {
    this.deps.mail.assertEnabled();
    const email = normaliseEmail(rawEmail);
    await this.deps.mailThrottle.take({ recipient: email, ip: client.ip });
    await this.deps.requests.record('SIGN_IN_CODE', email, client);
    return true;
  }

  /** A new code for `user` (older ones die), its mail in the outbox, in the worker's transaction. */
  async #issue(tx: Executor, user: Credentials, client: ClientInfo): Promise<void> {
    const now = this.deps.clock();
    // randomInt draws uniformly (rejection sampling): every code is equally likely.
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = new Date(now.getTime() + this.deps.settings.ttl * 1000);
    await insertSignInCode(tx, { userId: user.id, email: user.email, codeHash: this.#hash(user.id, code), now, expiresAt });
    await enqueueMail(tx, { to: user.email, ...signInCodeMail({ code, expiresAt }) }, now);
    await recordAuthEvent(tx, { type: 'SIGN_IN_CODE_REQUESTED', userId: user.id, client, at: now });
  }

  /**
   * Checks the code under the account's login throttle; a right one is spent, marks the address
   * verified and signs in a new session. An unknown address, a wrong, expired, superseded or dead
   * code: INVALID_SIGN_IN_CODE alike.
   */
  async signIn(input: SignInWithCodeInput, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const email = normaliseEmail(input.email);
    const attempt = await this.deps.loginThrottle.beginPasswordCheck({ email, ip: client.ip });
    let user: Credentials | null;
    try {
      user = await this.deps.db.transaction((tx) => this.#check(tx, email, input.code.trim(), client));
    } catch (error) {
      // Nothing was judged (the database failed): no failed attempt.
      await attempt.abandoned().catch(() => {});
      throw error;
    }
    if (!user) throw new AuthError('INVALID_SIGN_IN_CODE');
    await attempt.succeeded();
    return this.#signInAfterFirstStep(user, deviceName, input.delivery ?? 'BODY', client);
  }

  /** The user whose live code this is (spent now), or null (a wrong try counted). */
  async #check(tx: Executor, email: string, code: string, client: ClientInfo): Promise<Credentials | null> {
    const now = this.deps.clock();
    const user = await findCredentials(tx, email);
    const live = user && (await lockLiveSignInCode(tx, { userId: user.id, now, maxTries: MAX_WRONG_TRIES }));
    // Hashed and compared even without a code, so that the answer takes the same time.
    const presented = this.#hash(user?.id ?? '', CODE_PATTERN.test(code) ? code : '');
    const right = constantTimeEqual(presented, live?.codeHash ?? '0'.repeat(presented.length)) && !!live;
    if (!user || !live || !right) {
      if (live) await recordWrongTry(tx, { id: live.id, now, maxTries: MAX_WRONG_TRIES });
      await recordAuthEvent(tx, { type: 'SIGN_IN_CODE_FAILED', userId: user?.id ?? null, client, at: now });
      return null;
    }
    await spendSignInCode(tx, { id: live.id, now });
    const newlyVerified = await markEmailVerified(tx, user.id);
    if (newlyVerified !== null) await queueWebhookEvents(tx, 'email.verified', [{ at: now, data: { userId: user.id, email: newlyVerified } }]);
    await recordAuthEvent(tx, { type: 'SIGNED_IN_WITH_CODE', userId: user.id, client, at: now });
    return user;
  }

  /**
   * A verified first step (the code proved the mailbox, amr `otp`) becomes a session through the
   * sign-in gate, as login's does: a user with a second factor gets MFA_REQUIRED instead.
   */
  #signInAfterFirstStep(user: Credentials, deviceName: string | null, delivery: DeliveryChoice, client: ClientInfo): Promise<IssuedTokens> {
    return this.deps.gate.signIn({ user, factor: 'otp', deviceName, delivery, passwordVersion: null, client });
  }

  /** HMAC-SHA-256 of the user id and the code: bound to the account, and of no use without the key. */
  #hash(userId: string, code: string): string {
    return createHmac('sha256', this.deps.settings.hashKey ?? new Uint8Array(0))
      .update(`${userId}\n${code}`)
      .digest('hex');
  }
}
