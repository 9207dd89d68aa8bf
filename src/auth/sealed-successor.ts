import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A refresh token's successor sealed for the holder of its predecessor: AES-256-GCM under a key derived
 * (HKDF-SHA256) from the predecessor token, which is stored nowhere (only its SHA-256 is). What the
 * database holds opens for nobody but a client presenting the predecessor: a lost refresh response can
 * be answered again without keeping any refresh token in a usable form.
 */

const INFO = 'tidepass refresh-token successor v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyOf(predecessor: string): Buffer {
  // The predecessor holds 256 random bits: no salt or stretching needed for a key derived from it.
  return Buffer.from(hkdfSync('sha256', predecessor, Buffer.alloc(0), INFO, 32));
}

/** The successor (a base64url token) sealed under its predecessor, as base64url text. */
export function sealSuccessor(predecessor: string, successor: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(predecessor), iv);
  const body = Buffer.concat([cipher.update(Buffer.from(successor, 'base64url')), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The sealed successor, or null if `predecessor` is not the token it was sealed for (or it was altered). */
export function openSuccessor(predecessor: string, sealed: string): string | null {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(predecessor), bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const body = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('base64url');
  } catch {
    return null;
  }
}
