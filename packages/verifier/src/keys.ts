import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

const RETRY_AFTER_FAILURE_MS = 1000;

export interface KeyStoreOptions {
  /** tidepass's `/.well-known/jwks.json`. */
  readonly jwksUrl: string;
  readonly fetch: typeof fetch;
  /** Milliseconds between two fetches caused by unknown kids, so a stream of forged kids costs tidepass one request per cooldown. */
  readonly cooldownMs: number;
  /** Monotonic milliseconds. */
  readonly monotonic: () => number;
  readonly timeoutMs: number;
}

/** What a token's kid leads to: a key to verify with, none of tidepass's, or no way to know right now. */
export type KeyLookup = { readonly found: JWTVerifyGetKey } | { readonly found: 'unknown-kid' | 'unavailable' };

/**
 * tidepass's public keys by kid. A token naming a kid not seen yet makes the set be fetched again
 * (at most once per cooldown), so a signing-key rotation reaches this service without a restart.
 */
export class KeyStore {
  #kids = new Set<string>();
  #key: JWTVerifyGetKey | undefined;
  #lastFetchAt = -Infinity;
  #lastFetchFailed = false;
  #inflight: Promise<void> | undefined;

  constructor(private readonly options: KeyStoreOptions) {}

  get loaded(): boolean {
    return this.#key !== undefined;
  }

  /** Fetches the key set; throws when tidepass cannot be reached or answers something else. */
  async load(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** The key the token's header names, by kid only: a token without a kid is not tidepass's. */
  async lookup(token: string): Promise<KeyLookup> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return { found: 'unknown-kid' };
    }
    if (typeof kid !== 'string' || kid.length === 0) return { found: 'unknown-kid' };
    if (!this.#kids.has(kid)) {
      const { cooldownMs, monotonic } = this.options;
      // After a failed fetch, sooner than the cooldown: meanwhile the answer is "unavailable", not "invalid".
      const wait = this.#lastFetchFailed ? Math.min(cooldownMs, RETRY_AFTER_FAILURE_MS) : cooldownMs;
      if (this.#inflight || monotonic() - this.#lastFetchAt >= wait) await this.load().catch(() => {});
      if (!this.#kids.has(kid)) return { found: this.#lastFetchFailed || !this.#key ? 'unavailable' : 'unknown-kid' };
    }
    return { found: this.#key! };
  }

  async #fetch(): Promise<void> {
    this.#lastFetchAt = this.options.monotonic();
    try {
      const response = await this.options.fetch(this.options.jwksUrl, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) throw new Error(`JWKS answered HTTP ${response.status}`);
      const jwks = (await response.json()) as JSONWebKeySet;
      if (!Array.isArray(jwks?.keys)) throw new Error('JWKS has no "keys" array');
      const kids = jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string');
      this.#key = createLocalJWKSet({ keys: jwks.keys });
      this.#kids = new Set(kids);
      this.#lastFetchFailed = false;
    } catch (error) {
      this.#lastFetchFailed = true;
      throw error;
    }
  }
}
