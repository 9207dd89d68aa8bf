export interface VerifierOptions {
  /** tidepass's base URL, e.g. `http://tidepass:4000`: the feed is at `/revocations`, the keys at `/.well-known/jwks.json`. */
  readonly url: string;
  /** Must equal tidepass's JWT_ISSUER. */
  readonly issuer: string;
  /** Must equal tidepass's JWT_AUDIENCE. */
  readonly audience: string;
  /** One of tidepass's REVOCATION_FEED_KEYS (at least 32 characters). */
  readonly feedKey: string;
  /**
   * Milliseconds the feed may be down before `verify` stops vouching for tokens (default 5,000):
   * beyond it, a revoked session could pass unnoticed.
   */
  readonly maxStaleness?: number;
  /**
   * What `verify` answers once the feed has been down longer than `maxStaleness`: `'refuse'` (the
   * default) says VERIFIER_UNAVAILABLE; `'accept'` keeps accepting valid signatures, so requests go on
   * during an outage of tidepass at the price of accepting sessions that ended meanwhile.
   */
  readonly whenStale?: 'refuse' | 'accept';
  /** Verified tokens remembered (default 10,000); signatures of others are checked again. */
  readonly cacheSize?: number;
  /** Milliseconds between two key-set fetches caused by unknown kids (default 30,000). */
  readonly jwksCooldown?: number;
  /** Reconnection delays of the feed, doubling from `initial` to `max` ms, with jitter (default 250 to 10,000). */
  readonly reconnect?: { readonly initial?: number; readonly max?: number };
  /** Told of every feed or key-set failure (default: console.warn); never given a token or the feed key. */
  readonly onError?: (error: Error) => void;
  /** For custom agents, proxies or tests (default: the global fetch). */
  readonly fetch?: typeof fetch;
  /** Wall clock for token times (default: the system clock); for tests. */
  readonly clock?: () => Date;
  /** Monotonic milliseconds for staleness, backoff and cooldowns (default: performance.now); for tests. */
  readonly monotonic?: () => number;
}

export type ResolvedOptions = Required<Omit<VerifierOptions, 'reconnect'>> & {
  readonly reconnect: { readonly initial: number; readonly max: number };
};

/** Settings are checked once, here, so that a misconfigured service fails at start-up, not on a request. */
export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  const problems: string[] = [];
  let base: URL | undefined;
  try {
    base = new URL(options.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') problems.push('url: must be http or https');
  } catch {
    problems.push('url: not a URL');
  }
  if (!options.issuer) problems.push('issuer: required');
  if (!options.audience) problems.push('audience: required');
  if (typeof options.feedKey !== 'string' || options.feedKey.length < 32) problems.push('feedKey: at least 32 characters');
  const maxStaleness = options.maxStaleness ?? 5_000;
  if (!(maxStaleness >= 0)) problems.push('maxStaleness: a number of milliseconds >= 0');
  const whenStale = options.whenStale ?? 'refuse';
  if (whenStale !== 'refuse' && whenStale !== 'accept') problems.push("whenStale: 'refuse' or 'accept'");
  const cacheSize = options.cacheSize ?? 10_000;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) problems.push('cacheSize: an integer >= 0');
  if (problems.length > 0) throw new Error(`@tidepass/verifier: invalid options:\n  ${problems.join('\n  ')}`);
  return {
    url: base!.href.replace(/\/+$/, ''),
    issuer: options.issuer,
    audience: options.audience,
    feedKey: options.feedKey,
    maxStaleness,
    whenStale,
    cacheSize,
    jwksCooldown: options.jwksCooldown ?? 30_000,
    reconnect: { initial: options.reconnect?.initial ?? 250, max: options.reconnect?.max ?? 10_000 },
    onError: options.onError ?? ((error) => console.warn(`@tidepass/verifier: ${error.message}`)),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: options.clock ?? (() => new Date()),
    monotonic: options.monotonic ?? (() => performance.now()),
  };
}
