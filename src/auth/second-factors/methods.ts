import { and, count, eq, isNotNull, isNull } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { passkeys, recoveryCodes, totpFactors } from '../../db/schema.js';

/** The second steps a user can take, as MFA_REQUIRED's `extensions.methods` names them. */
export const secondFactorMethods = ['TOTP', 'RECOVERY_CODE', 'PASSKEY'] as const;
export type SecondFactorMethod = (typeof secondFactorMethods)[number];

/** RFC 8176 `amr` values: what a session's access tokens say of how its user proved themselves. */
export type AuthenticationMethod = 'pwd' | 'otp' | 'hwk' | 'mfa';

/** The `amr` of a sign-in from the factors used, with `mfa` when there was more than one. */
export function amrOf(factors: readonly AuthenticationMethod[]): AuthenticationMethod[] {
  const distinct = [...new Set(factors.filter((factor) => factor !== 'mfa'))];
  return distinct.length > 1 ? [...distinct, 'mfa'] : distinct;
}

/** What a user has set up, read together: the one answer to "does this sign-in need a second step". */
export interface FactorState {
  readonly totpEnabled: boolean;
  readonly recoveryCodesLeft: number;
  readonly passkeyCount: number;
}

export async function factorStateOf(db: Executor, userId: string): Promise<FactorState> {
  const [[totp], [codes], [keys]] = await Promise.all([
    db
      .select({ userId: totpFactors.userId })
      .from(totpFactors)
      .where(and(eq(totpFactors.userId, userId), isNotNull(totpFactors.confirmedAt))),
    db
      .select({ left: count() })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt))),
    db.select({ count: count() }).from(passkeys).where(eq(passkeys.userId, userId)),
  ]);
  return { totpEnabled: totp !== undefined, recoveryCodesLeft: codes?.left ?? 0, passkeyCount: keys?.count ?? 0 };
}

/**
 * The second steps open to the user. Recovery codes stand in for a factor, never alone: a user whose
 * last factor is gone signs in with the password only, whatever codes remain.
 */
export function methodsOf(state: FactorState): SecondFactorMethod[] {
  const methods: SecondFactorMethod[] = [];
  if (state.totpEnabled) methods.push('TOTP');
  if (hasSecondFactor(state) && state.recoveryCodesLeft > 0) methods.push('RECOVERY_CODE');
  if (state.passkeyCount > 0) methods.push('PASSKEY');
  return methods;
}

export function hasSecondFactor(state: FactorState): boolean {
  return state.totpEnabled || state.passkeyCount > 0;
}

/** Which second factors the user has (TOTP, RECOVERY_CODE, PASSKEY); empty for a password-only account. */
export async function secondFactorsOf(db: Executor, userId: string): Promise<SecondFactorMethod[]> {
  return methodsOf(await factorStateOf(db, userId));
}
