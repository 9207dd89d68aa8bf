import { and, count, eq, isNull } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { recoveryCodes } from '../../db/schema.js';
import { sha256Hex } from '../crypto.js';

export const RECOVERY_CODE_COUNT = 10;
/**
 * Crockford's base32 (no i, l, o, u): 5 bits a character, none confusable when read aloud or typed
 * from paper. Twelve characters are 60 bits, in three groups of four: `7k2m-9xqd-h4rt`.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 12;
const GROUP = 4;

/** Ten fresh codes, formatted for reading; only their hashes are stored. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    // 32 symbols divide 256: taking each byte modulo 32 has no bias.
    const bytes = crypto.getRandomValues(new Uint8Array(LENGTH));
    const plain = Array.from(bytes, (byte) => ALPHABET[byte % ALPHABET.length]).join('');
    return plain.match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-');
  });
}

/** The canonical form of a code as typed: case, spaces and hyphens ignored, Crockford's look-alikes read as digits. */
export function normaliseRecoveryCode(typed: string): string {
  return typed
    .toLowerCase()
    .replace(/[\s-]/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
}

function hashOf(code: string): string {
  return sha256Hex(`recovery-code\n${normaliseRecoveryCode(code)}`);
}

/** Replaces every code of the user (used or not) with these. */
export async function replaceRecoveryCodes(db: Executor, input: { userId: string; codes: readonly string[]; now: Date }): Promise<void> {
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, input.userId));
  await db.insert(recoveryCodes).values(
    input.codes.map((code) => ({ id: crypto.randomUUID(), userId: input.userId, codeHash: hashOf(code), createdAt: input.now })),
  );
}

/** Spends one unused code of the user: true for exactly one of concurrent uses. Looked up by hash through a unique index. */
export async function spendRecoveryCode(db: Executor, input: { userId: string; code: string; now: Date }): Promise<boolean> {
  const normalised = normaliseRecoveryCode(input.code);
  if (normalised.length !== LENGTH || [...normalised].some((character) => !ALPHABET.includes(character))) return false;
  const rows = await db
    .update(recoveryCodes)
    .set({ usedAt: input.now })
    .where(and(eq(recoveryCodes.userId, input.userId), eq(recoveryCodes.codeHash, hashOf(normalised)), isNull(recoveryCodes.usedAt)))
    .returning({ id: recoveryCodes.id });
  return rows.length === 1;
}

export async function deleteRecoveryCodes(db: Executor, userId: string): Promise<void> {
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
}

export async function recoveryCodesLeft(db: Executor, userId: string): Promise<number> {
  const [row] = await db
    .select({ left: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.left ?? 0;
}
