import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import type { ClientInfo } from '../sessions.js';
import type { Throttle } from '../throttle.js';
import type { User } from '../users.js';
import { spendRecoveryCode } from './recovery-codes.js';
import type { SecretSealer } from './sealing.js';
import { acceptStep, findTotp, looksLikeTotpCode, matchingStep } from './totp.js';

/** Which kind of code proved the second factor. */
export type CodeKind = 'TOTP' | 'RECOVERY_CODE';

/**
 * Checks a second-factor code of a user: a TOTP code (six digits) or a recovery code. Throttled as a
 * sign-in (RATE_LIMITED), each use and each failure in the audit log; a wrong code is
 * INVALID_MFA_CODE. A TOTP step or a recovery code passes once.
 */
export class CodeCheck {
  constructor(
    private readonly deps: { db: Database; clock: Clock; throttle: Throttle; sealer: SecretSealer },
  ) {}

  async verify(
    user: User,
    code: string,
    context: { client: ClientInfo; sessionId?: string | null; recoveryCodes?: boolean },
  ): Promise<CodeKind> {
    const attempt = await this.deps.throttle.beginSecondFactorCheck({ email: user.email, userId: user.id, ip: context.client.ip });
    let kind: CodeKind | null;
    try {
      kind = await this.#check(user.id, code, context.recoveryCodes ?? true);
    } catch (error) {
      await attempt.abandoned().catch(() => {});
      throw error;
    }
    const event = { userId: user.id, sessionId: context.sessionId ?? null, client: context.client, at: this.deps.clock() };
    if (kind === null) {
      await recordAuthEvent(this.deps.db, { type: 'SECOND_FACTOR_FAILED', ...event });
      throw new AuthError('INVALID_MFA_CODE');
    }
    await attempt.succeeded();
    await recordAuthEvent(this.deps.db, { type: kind === 'TOTP' ? 'TOTP_USED' : 'RECOVERY_CODE_USED', ...event });
    return kind;
  }

  /**
   * A pending secret's first code (confirmTotpEnrollment): it turns TOTP on, and its step is the
   * first accepted. Throttled and audited as any other code.
   */
  async confirm(user: User, code: string, client: ClientInfo, sessionId: string): Promise<void> {
    const attempt = await this.deps.throttle.beginSecondFactorCheck({ email: user.email, userId: user.id, ip: client.ip });
    const now = this.deps.clock();
    let accepted: boolean;
    try {
      const totp = await findTotp(this.deps.db, this.deps.sealer, user.id);
      if (!totp || totp.confirmed) throw new AuthError('BAD_USER_INPUT', 'There is no authenticator app being set up: call startTotpEnrollment.', { field: 'code' });
      const step = matchingStep(totp.secret, code.replace(/\s/g, ''), now);
      accepted = step !== null && (await acceptStep(this.deps.db, { userId: user.id, step, now, confirm: true }));
    } catch (error) {
      await attempt.abandoned().catch(() => {});
      throw error;
    }
    if (!accepted) {
      await recordAuthEvent(this.deps.db, { type: 'SECOND_FACTOR_FAILED', userId: user.id, sessionId, client, at: now });
      throw new AuthError('INVALID_MFA_CODE');
    }
    await attempt.succeeded();
  }

  /** The kind of code that matched and was spent, or null. */
  async #check(userId: string, code: string, recoveryCodes: boolean): Promise<CodeKind | null> {
    const now = this.deps.clock();
    if (looksLikeTotpCode(code)) {
      const totp = await findTotp(this.deps.db, this.deps.sealer, userId);
      if (!totp?.confirmed) return null;
      const step = matchingStep(totp.secret, code.replace(/\s/g, ''), now);
      // A step at or before the last accepted one is a replay: refused like a wrong code.
      return step !== null && (await acceptStep(this.deps.db, { userId, step, now, confirm: false })) ? 'TOTP' : null;
    }
    if (!recoveryCodes) return null;
    return (await spendRecoveryCode(this.deps.db, { userId, code, now })) ? 'RECOVERY_CODE' : null;
  }
}
