import type { Claims } from './token-rules.js';

/**
 * Claims of tokens whose signature and claims verified, by the exact token string, so that a token is
 * verified once and not on every request. Least recently used first out once full; expiry is still
 * checked on every hit, and revocation is not cached at all.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Claims>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(token: string): Claims | undefined {
    const claims = this.#entries.get(token);
    if (claims) {
      // Map keeps insertion order: moving a hit to the end makes the first entry the least recently used.
      this.#entries.delete(token);
      this.#entries.set(token, claims);
    }
    return claims;
  }

  set(token: string, claims: Claims): void {
    if (this.max <= 0) return;
    this.#entries.delete(token);
    this.#entries.set(token, claims);
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }
}
