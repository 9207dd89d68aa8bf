import { FeedClient } from './feed-client.js';
import { KeyStore } from './keys.js';
import { resolveOptions, type ResolvedOptions, type VerifierOptions } from './options.js';
import { RevokedSessions } from './revoked-sessions.js';
import { VerifiedTokens } from './token-cache.js';
import { checkClaims, hasExpired, type Claims } from './token-rules.js';
import type { Hello, Revoked } from './wire.js';

export type VerifyFailureCode = 'INVALID_TOKEN' | 'TOKEN_EXPIRED' | 'SESSION_REVOKED' | 'VERIFIER_UNAVAILABLE';

export type VerifyResult =
  | { readonly ok: true; readonly claims: Claims }
  | { readonly ok: false; readonly code: VerifyFailureCode };

export type RevokedListener = (revoked: Revoked) => void;

export interface VerifierStats {
  /** Ended sessions held (only while a token of theirs could still pass). */
  readonly revokedSessions: number;
  readonly cachedTokens: number;
  /** Connected to the feed and caught up with it. */
  readonly feedSynced: boolean;
  /** Milliseconds the feed has been down; 0 when caught up, Infinity before the first snapshot. */
  readonly feedDownFor: number;
}

export interface Verifier {
  /** Resolves once the keys are loaded and the feed's snapshot received; rejects on a refused feed key or a wrong tidepass. */
  ready(): Promise<void>;
  verify(token: string): Promise<VerifyResult>;
  /** Reads `Authorization: Bearer <token>`; null when there is no header at all (an anonymous request). */
  authenticate(authorization: string | null | undefined): Promise<VerifyResult | null>;
  /** Called once per session end this service learns of (also ends from the snapshot). Returns the unsubscribe function. */
  onRevoked(listener: RevokedListener): () => void;
  stats(): VerifierStats;
  close(): Promise<void>;
}

const JWKS_TIMEOUT_MS = 5_000;
const PRUNE_INTERVAL_MS = 10_000;

export function createVerifier(options: VerifierOptions): Verifier {
  const settings = resolveOptions(options);
  const revoked = new RevokedSessions(settings.clock);
  const cache = new VerifiedTokens(settings.cacheSize);
  const listeners = new Set<RevokedListener>();
  let hello: Hello | undefined;
  const keys = new KeyStore({
    jwksUrl: `${settings.url}/.well-known/jwks.json`,
    fetch: settings.fetch,
    cooldownMs: settings.jwksCooldown,
    monotonic: settings.monotonic,
    timeoutMs: JWKS_TIMEOUT_MS,
  });
  const feed = new FeedClient({
    url: `${settings.url}/revocations`,
    key: settings.feedKey,
    fetch: settings.fetch,
    monotonic: settings.monotonic,
    backoff: { initialMs: settings.reconnect.initial, maxMs: settings.reconnect.max },
    checkHello: (received) => helloMismatch(received, settings),
    onHello: (received) => {
      hello = received;
    },
    onRevoked: (end) => {
      if (!revoked.add(end.sessionId, end.endedAt, hello!.accessTokenTtl)) return;
      for (const listener of listeners) {
        try {
          listener(end);
        } catch (error) {
          settings.onError(error instanceof Error ? error : new Error(String(error)));
        }
      }
    },
    onError: settings.onError,
  });
  const pruner = setInterval(() => revoked.prune(), PRUNE_INTERVAL_MS);
  pruner.unref();
  let closed = false;
  const keysLoaded = loadKeysUntilDone(keys, settings, () => closed);
  const ready = Promise.all([keysLoaded, feed.firstSync]).then(() => {});
  ready.catch(() => {});

  async function verify(token: string): Promise<VerifyResult> {
    // The token lifetime comes with the feed's hello; before it, nothing can be vouched for.
    if (!hello || typeof token !== 'string') return { ok: false, code: hello ? 'INVALID_TOKEN' : 'VERIFIER_UNAVAILABLE' };
    const now = settings.clock();
    let claims = cache.get(token);
    if (claims && hasExpired(claims, hello.accessTokenTtl, now)) {
      cache.delete(token);
      return { ok: false, code: 'TOKEN_EXPIRED' };
    }
    if (!claims) {
      const check = await verifyAfresh(token, now, hello.accessTokenTtl);
      if (!check.ok) return check;
      claims = check.claims;
      cache.set(token, claims);
    }
    if (revoked.has(claims.sessionId)) return { ok: false, code: 'SESSION_REVOKED' };
    // Fail closed: past maxStaleness, an end may have happened that this service has not heard of.
    if (settings.whenStale === 'refuse' && feed.downFor() > settings.maxStaleness) return { ok: false, code: 'VERIFIER_UNAVAILABLE' };
    return { ok: true, claims };
  }

  async function verifyAfresh(token: string, now: Date, accessTokenTtl: number): Promise<VerifyResult> {
    if (token.length === 0) return { ok: false, code: 'INVALID_TOKEN' };
    const key = await keys.lookup(token);
    if (key.found === 'unavailable') return { ok: false, code: 'VERIFIER_UNAVAILABLE' };
    if (key.found === 'unknown-kid') return { ok: false, code: 'INVALID_TOKEN' };
    const rules = { issuer: settings.issuer, audience: settings.audience, maxTokenAge: accessTokenTtl };
    return checkClaims(token, key.found, rules, now);
  }

  return {
    ready: () => ready,
    verify,
    async authenticate(authorization) {
      if (!authorization) return null;
      // The same reading as tidepass's own.
      const match = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!match) return { ok: false, code: 'INVALID_TOKEN' };
      return verify(match[1]!);
    },
    onRevoked(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats() {
      revoked.prune();
      return { revokedSessions: revoked.size, cachedTokens: cache.size, feedSynced: feed.synced, feedDownFor: feed.downFor() };
    },
    async close() {
      closed = true;
      clearInterval(pruner);
      feed.close();
      listeners.clear();
    },
  };
}

function helloMismatch(hello: Hello, settings: ResolvedOptions): string | null {
  if (hello.issuer !== settings.issuer) return `the feed is of issuer "${hello.issuer}", not "${settings.issuer}"`;
  if (hello.audience !== settings.audience) return `the feed is for audience "${hello.audience}", not "${settings.audience}"`;
  return null;
}

/** The first key set, retried like the feed until it comes or the verifier is closed. */
async function loadKeysUntilDone(keys: KeyStore, settings: ResolvedOptions, closed: () => boolean): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await keys.load();
    } catch (error) {
      if (closed()) throw new Error('the verifier was closed', { cause: error });
      settings.onError(new Error(`fetching the key set failed: ${error instanceof Error ? error.message : String(error)}`));
    }
    const delay = Math.min(settings.reconnect.max, settings.reconnect.initial * 2 ** attempt);
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    if (closed()) throw new Error('the verifier was closed');
  }
}
