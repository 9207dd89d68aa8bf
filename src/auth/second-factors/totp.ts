import { and, eq, isNotNull, isNull, lt, or } from 'drizzle-orm';
import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Executor } from '../../db/client.js';
import { totpFactors } from '../../db/schema.js';
import { constantTimeEqual } from '../crypto.js';
import type { SecretSealer } from './sealing.js';

/** RFC 6238 as every authenticator app implements it: HMAC-SHA-1, 6 digits, 30-second steps. */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD = 30;
/** One step either way: a phone's clock a little off, or a code typed as it changed. */
const DRIFT_STEPS = 1;
/** 160 bits, the HMAC-SHA-1 block RFC 4226 recommends. */
const SECRET_BYTES = 20;
const ISSUER = 'tidepass';

export interface TotpEnrollment {
  readonly secret: string;
  readonly otpauthUri: string;
  readonly qrCodeSvg: string;
}

/** A new secret, in the forms an authenticator app takes: base32, the otpauth:// URI, and its QR code. */
export async function newTotpEnrollment(accountName: string): Promise<TotpEnrollment> {
  const secret = new Secret({ size: SECRET_BYTES });
  const totp = new TOTP({ issuer: ISSUER, label: accountName, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD, secret });
  const otpauthUri = totp.toString();
  const qrCodeSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret: secret.base32, otpauthUri, qrCodeSvg };
}

/**
 * The time step a code belongs to, within the drift allowed, or null. Every candidate is computed and
 * compared in constant time, with no early exit, so the answer's timing says nothing of which matched.
 */
export function matchingStep(secretBase32: string, code: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const secret = Secret.fromBase32(secretBase32);
  const current = TOTP.counter({ period: PERIOD, timestamp: now.getTime() });
  let matched: number | null = null;
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step += 1) {
    const expected = HOTP.generate({ secret, algorithm: ALGORITHM, digits: DIGITS, counter: step });
    if (constantTimeEqual(expected, code) && matched === null) matched = step;
  }
  return matched;
}

/** Whether a code is shaped as a TOTP code (six digits) rather than a recovery code. */
export function looksLikeTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s/g, ''));
}

export interface StoredTotp {
  readonly secret: string;
  readonly confirmed: boolean;
}

/** The user's TOTP secret, opened; null when none was started. */
export async function findTotp(db: Executor, sealer: SecretSealer, userId: string): Promise<StoredTotp | null> {
  const [row] = await db.select().from(totpFactors).where(eq(totpFactors.userId, userId));
  if (!row) return null;
  return { secret: sealer.open(row.sealedSecret, contextOf(userId)), confirmed: row.confirmedAt !== null };
}

/** Stores a pending secret, replacing an earlier pending one; false when TOTP is already on. */
export async function storePendingTotp(
  db: Executor,
  sealer: SecretSealer,
  input: { userId: string; secret: string; now: Date },
): Promise<boolean> {
  const sealedSecret = sealer.seal(input.secret, contextOf(input.userId));
  const rows = await db
    .insert(totpFactors)
    .values({ userId: input.userId, sealedSecret, createdAt: input.now })
    .onConflictDoUpdate({
      target: totpFactors.userId,
      set: { sealedSecret, createdAt: input.now, lastUsedStep: null },
      setWhere: isNull(totpFactors.confirmedAt),
    })
    .returning({ userId: totpFactors.userId });
  return rows.length === 1;
}

/**
 * Records `step` as the last accepted one, only if it is later than the last: of two uses of one code
 * (or of an earlier one) exactly the first passes. `confirm` also turns a pending secret on.
 */
export async function acceptStep(
  db: Executor,
  input: { userId: string; step: number; now: Date; confirm: boolean },
): Promise<boolean> {
  const rows = await db
    .update(totpFactors)
    .set({ lastUsedStep: input.step, ...(input.confirm ? { confirmedAt: input.now } : {}) })
    .where(
      and(
        eq(totpFactors.userId, input.userId),
        input.confirm ? isNull(totpFactors.confirmedAt) : isNotNull(totpFactors.confirmedAt),
        or(isNull(totpFactors.lastUsedStep), lt(totpFactors.lastUsedStep, input.step)),
      ),
    )
    .returning({ userId: totpFactors.userId });
  return rows.length === 1;
}

export async function deleteTotp(db: Executor, userId: string): Promise<boolean> {
  const rows = await db.delete(totpFactors).where(eq(totpFactors.userId, userId)).returning({ userId: totpFactors.userId });
  return rows.length === 1;
}

/** The sealed secret is bound to its user's row: copied into another row it does not open. */
function contextOf(userId: string): string {
  return `totp-secret:${userId}`;
}
