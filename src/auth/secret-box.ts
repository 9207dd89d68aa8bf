import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (the generated signing key; later, second factors) sealed with AES-256-GCM under
 * the key-encryption key (KEY_ENCRYPTION_KEY). A sealed value is text: `v1.<iv>.<ciphertext>.<tag>`,
 * base64url. Each is bound to a context (what it is and which row holds it) as associated data, so a
 * sealed value copied into another row or another purpose does not open.
 */

const FORMAT = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value that does not open: another key, another context, or altered. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new RangeError(`a key-encryption key is ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  /** Whether `value` has the form of a sealed value (not whether it opens). */
  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(`${FORMAT}.`) && value.split('.').length === 4;
  }

  seal(plaintext: string, context: string): string {
    // A random 96-bit IV per value: safe for far more values than this box will ever seal under one key.
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  open(sealed: string, context: string): string {
    if (!SecretBox.isSealed(sealed)) throw new SecretBoxError('not a sealed value');
    const [, iv, ciphertext, tag] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    if (iv!.length !== IV_BYTES || tag!.length !== TAG_BYTES) throw new SecretBoxError('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv!, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag!);
    try {
      return Buffer.concat([decipher.update(ciphertext!), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('does not open under this key');
    }
  }
}
