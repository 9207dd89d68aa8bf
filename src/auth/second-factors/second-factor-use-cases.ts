import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { listPasskeys } from '../../db/passkeys.js';
import { AuthError } from '../../errors.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import type { Viewer } from '../authentication.js';
import type { IssuedTokens } from '../issued-tokens.js';
import type { ClientInfo } from '../sessions.js';
import { findUserById, type User } from '../users.js';
import type { CodeCheck } from './code-check.js';
import { factorStateOf, hasSecondFactor } from './methods.js';
import { findMfaToken, spendMfaToken, type DeliveryChoice } from './mfa-tokens.js';
import { newRecoveryCodes, replaceRecoveryCodes, deleteRecoveryCodes } from './recovery-codes.js';
import type { SecretSealer } from './sealing.js';
import type { SignInGate } from './sign-in-gate.js';
import type { StepUp } from './step-up.js';
import { deleteTotp, newTotpEnrollment, storePendingTotp, type TotpEnrollment } from './totp.js';

export type { TotpEnrollment };

/** A passkey as its owner sees it (the passkeys family fills the list). */
export interface PasskeyView {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export interface SecuritySettings {
  readonly totpEnabled: boolean;
  readonly recoveryCodesLeft: number;
  readonly passkeys: readonly PasskeyView[];
}

/** A second step completed: the new session's tokens and how the first step asked to receive them. */
export interface CompletedSignIn {
  readonly tokens: IssuedTokens;
  readonly delivery: DeliveryChoice;
}

/** The authenticator app, recovery codes and the second step of a sign-in. */
export class SecondFactorUseCases {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      sealer: SecretSealer;
      stepUp: StepUp;
      gate: SignInGate;
      codes: CodeCheck;
    },
  ) {}

  async mySecurity(viewer: Viewer): Promise<SecuritySettings> {
    const [state, passkeys] = await Promise.all([
      factorStateOf(this.deps.db, viewer.userId),
      listPasskeys(this.deps.db, viewer.userId),
    ]);
    return {
      totpEnabled: state.totpEnabled,
      recoveryCodesLeft: state.recoveryCodesLeft,
      passkeys: passkeys.map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt })),
    };
  }

  /** A new secret, kept pending (sealed) until a code from the app confirms it. Needs a recent proof. */
  async startTotpEnrollment(viewer: Viewer): Promise<TotpEnrollment> {
    this.deps.stepUp.requireRecent(viewer);
    const user = await this.#user(viewer);
    const enrollment = await newTotpEnrollment(user.email);
    const stored = await storePendingTotp(this.deps.db, this.deps.sealer, {
      userId: user.id,
      secret: enrollment.secret,
      now: this.deps.clock(),
    });
    if (!stored) throw new AuthError('BAD_USER_INPUT', 'An authenticator app is already set up: disable it first.');
    return enrollment;
  }

  /** A code from the app turns TOTP on; returns ten new recovery codes, shown this once. */
  async confirmTotpEnrollment(viewer: Viewer, code: string, client: ClientInfo): Promise<string[]> {
    const user = await this.#user(viewer);
    await this.deps.codes.confirm(user, code, client, viewer.sessionId);
    const codes = newRecoveryCodes();
    const now = this.deps.clock();
    await this.deps.db.transaction(async (tx) => {
      await replaceRecoveryCodes(tx, { userId: user.id, codes, now });
      await recordAuthEvent(tx, { type: 'TOTP_ENABLED', userId: user.id, sessionId: viewer.sessionId, client, at: now });
      await queueWebhookEvents(tx, 'mfa.changed', [{ at: now, data: { userId: user.id, change: 'TOTP_ENABLED' } }]);
    });
    return codes;
  }

  /** Turns TOTP off with one of its codes or a recovery code; needs a recent proof. */
  async disableTotp(viewer: Viewer, code: string, client: ClientInfo): Promise<boolean> {
    this.deps.stepUp.requireRecent(viewer);
    const user = await this.#user(viewer);
    if (!(await factorStateOf(this.deps.db, user.id)).totpEnabled) throw new AuthError('NOT_FOUND', 'No authenticator app is set up.');
    await this.deps.codes.verify(user, code, { client, sessionId: viewer.sessionId });
    const now = this.deps.clock();
    await this.deps.db.transaction(async (tx) => {
      await deleteTotp(tx, user.id);
      // Recovery codes stand in for a factor: with none left they would only be a way in to forget.
      if (!hasSecondFactor(await factorStateOf(tx, user.id))) await deleteRecoveryCodes(tx, user.id);
      await recordAuthEvent(tx, { type: 'TOTP_DISABLED', userId: user.id, sessionId: viewer.sessionId, client, at: now });
      await queueWebhookEvents(tx, 'mfa.changed', [{ at: now, data: { userId: user.id, change: 'TOTP_DISABLED' } }]);
    });
    return true;
  }

  /** Ten new recovery codes; the old ones, used or not, die. Needs a recent proof and a second factor. */
  async regenerateRecoveryCodes(viewer: Viewer, client: ClientInfo): Promise<string[]> {
    this.deps.stepUp.requireRecent(viewer);
    if (!hasSecondFactor(await factorStateOf(this.deps.db, viewer.userId))) {
      throw new AuthError('BAD_USER_INPUT', 'Recovery codes need a second factor: set up an authenticator app or a passkey first.');
    }
    const codes = newRecoveryCodes();
    const now = this.deps.clock();
    await this.deps.db.transaction(async (tx) => {
      await replaceRecoveryCodes(tx, { userId: viewer.userId, codes, now });
      await recordAuthEvent(tx, { type: 'RECOVERY_CODES_REGENERATED', userId: viewer.userId, sessionId: viewer.sessionId, client, at: now });
    });
    return codes;
  }

  /**
   * The second step with a TOTP or recovery code. A wrong code leaves the mfaToken live (throttled);
   * the right one spends it, and the session starts with what the first step asked for.
   */
  async completeLogin(input: { mfaToken: string; code: string }, client: ClientInfo): Promise<CompletedSignIn> {
    const pending = await findMfaToken(this.deps.db, this.deps.clock, input.mfaToken);
    const user = pending && (await findUserById(this.deps.db, pending.userId));
    if (!pending || !user) throw new AuthError('INVALID_MFA_TOKEN');
    await this.deps.codes.verify(user, input.code, { client });
    if (!(await spendMfaToken(this.deps.db, this.deps.clock, pending.id))) throw new AuthError('INVALID_MFA_TOKEN');
    const tokens = await this.deps.gate.startSession(user, {
      factors: [pending.firstFactor, 'otp'],
      deviceName: pending.deviceName,
      passwordVersion: pending.passwordVersion,
      client,
    });
    return { tokens, delivery: pending.delivery };
  }

  async #user(viewer: Viewer): Promise<User> {
    const user = await findUserById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    return user;
  }
}
