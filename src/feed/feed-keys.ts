import { constantTimeEqual, sha256Hex } from '../auth/crypto.js';

/**
 * The services' keys of REVOCATION_FEED_KEYS, held as SHA-256 digests: comparing digests of equal
 * length in constant time, against every key without stopping at a match, leaks neither a key's
 * length nor which key matched.
 */
export class FeedKeys {
  readonly #digests: readonly string[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(sha256Hex);
  }

  get configured(): boolean {
    return this.#digests.length > 0;
  }

  /** Whether `Authorization: Bearer <key>` names one of the keys. */
  accepts(authorization: string | undefined): boolean {
    const match = authorization ? /^Bearer +(\S+) *$/i.exec(authorization) : null;
    if (!match) return false;
    const digest = sha256Hex(match[1]!);
    let accepted = false;
    for (const known of this.#digests) accepted = constantTimeEqual(digest, known) || accepted;
    return accepted;
  }
}
