import type { SecretBox } from '../secret-box.js';

/**
 * Second-factor secrets at rest: sealed with the SecretBox under KEY_ENCRYPTION_KEY. Without one
 * (only outside production, where the embedded development default needs no setting) they are
 * stored marked as plain, as the generated signing key is; with one, a plain value is still read.
 */
export class SecretSealer {
  constructor(private readonly box: SecretBox | null) {}

  seal(secret: string, context: string): string {
    return this.box ? this.box.seal(secret, context) : `plain.${secret}`;
  }

  open(stored: string, context: string): string {
    if (stored.startsWith('plain.')) return stored.slice('plain.'.length);
    if (!this.box) throw new Error('a sealed second-factor secret needs KEY_ENCRYPTION_KEY');
    return this.box.open(stored, context);
  }
}
