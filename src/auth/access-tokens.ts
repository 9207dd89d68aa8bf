import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { isUuid } from './crypto.js';
import { signEs256 } from './es256-signer.js';
import { SIGNING_ALGORITHM, type SigningKeys } from './keys.js';

/** Explicit typing (RFC 8725 3.11, RFC 9068): an ID token or other JWT of ours is not an access token. */
const TOKEN_TYPE = 'at+jwt';
const CLOCK_TOLERANCE_SECONDS = 30;
/** Far above any token we issue; a larger one is refused before any parsing. */
const MAX_TOKEN_LENGTH = 4096;

export interface AccessClaims {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenId: string;
  readonly expiresAt: Date;
  /** `auth_time`: when the user last proved themselves in this session; null on a token without it. */
  readonly authTime: Date | null;
  /** `amr` (RFC 8176): how. */
  readonly amr: readonly string[];
}

export type AccessTokenCheck =
  | { readonly ok: true; readonly claims: AccessClaims }
  | { readonly ok: false; readonly code: 'TOKEN_EXPIRED' | 'INVALID_TOKEN' };

export interface AccessTokenOptions {
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds. */
  readonly ttl: number;
  readonly clock: Clock;
  /** How many distinct verified tokens to remember (default 10,000). */
  readonly cacheSize?: number;
}

export class AccessTokens {
  readonly #key: JWTVerifyGetKey;
  /**
   * Verified claims by the exact token string, so that a token's signature is checked once, not on
   * every request. Keyed by the whole string: any other string (even an equivalent ECDSA signature)
   * is verified afresh. Only successes are kept; expiry is still checked on every hit.
   */
  readonly #verified: LRUCache<string, AccessClaims>;

  constructor(private readonly options: AccessTokenOptions) {
    this.#verified = new LRUCache({ max: options.cacheSize ?? 10_000 });
    const byKid = options.keys.verificationKeys;
    // Every token we sign names its key. Without this, a key set of one key would be picked for a
    // token with no kid at all (jose's rule when a single key matches).
    this.#key = (header, token) => {
      if (typeof header.kid !== 'string' || header.kid.length === 0) throw new errors.JWKSNoMatchingKey();
      return byKid(header, token);
    };
  }

  /** Signs a token for one session; it never outlives `notAfter` (the session's own end). */
  async issue(subject: {
    userId: string;
    sessionId: string;
    notAfter: Date;
    authTime: Date;
    amr: readonly string[];
  }): Promise<{
    token: string;
    expiresAt: Date;
  }> {
    const { keys, issuer, audience, ttl, clock } = this.options;
    const now = Math.floor(clock().getTime() / 1000);
    const exp = Math.max(now + 1, Math.min(now + ttl, Math.floor(subject.notAfter.getTime() / 1000)));
    const token = signEs256(
      { alg: SIGNING_ALGORITHM, kid: keys.kid, typ: TOKEN_TYPE },
      {
        sid: subject.sessionId,
        iss: issuer,
        aud: audience,
        sub: subject.userId,
        jti: crypto.randomUUID(),
        iat: now,
        exp,
        auth_time: Math.floor(subject.authTime.getTime() / 1000),
        amr: [...subject.amr],
      },
      keys.privateKey,
    );
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Only ES256, only our keys (by kid), pinned issuer, audience and type. TOKEN_EXPIRED is said only of
   * a token whose signature verified: jose checks claims after the signature.
   */
  async verify(token: string): Promise<AccessTokenCheck> {
    const cached = this.#verified.get(token);
    if (cached) {
      if (!isExpired(cached, this.options.clock())) return { ok: true, claims: cached };
      this.#verified.delete(token);
      return { ok: false, code: 'TOKEN_EXPIRED' };
    }
    const check = await this.#verifySignatureAndClaims(token);
    if (check.ok) this.#verified.set(token, check.claims);
    return check;
  }

  async #verifySignatureAndClaims(token: string): Promise<AccessTokenCheck> {
    const { issuer, audience, ttl, clock } = this.options;
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, code: 'INVALID_TOKEN' };
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: [SIGNING_ALGORITHM],
        issuer,
        audience,
        typ: TOKEN_TYPE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
        // No token of ours lives longer than the TTL, whatever its exp says; also refuses an iat in the future.
        maxTokenAge: ttl,
        currentDate: clock(),
      });
      const { sub, sid, jti, exp } = payload;
      const authTime = typeof payload['auth_time'] === 'number' ? new Date(payload['auth_time'] * 1000) : null;
      const amr = Array.isArray(payload['amr']) ? payload['amr'].filter((value) => typeof value === 'string') : [];
      // Ids we issue are UUIDs: anything else is not our token, whoever signed it.
      const ids = typeof sub === 'string' && typeof sid === 'string' && isUuid(sub) && isUuid(sid);
      if (!ids || typeof jti !== 'string' || typeof exp !== 'number') {
        return { ok: false, code: 'INVALID_TOKEN' };
      }
      return {
        ok: true,
        claims: { userId: sub, sessionId: sid, tokenId: jti, expiresAt: new Date(exp * 1000), authTime, amr },
      };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, code: 'TOKEN_EXPIRED' };
      if (error instanceof errors.JOSEError || error instanceof TypeError) return { ok: false, code: 'INVALID_TOKEN' };
      throw error;
    }
  }
}

/** jose's own rule: expired once exp <= now - tolerance, in whole seconds. */
function isExpired(claims: AccessClaims, now: Date): boolean {
  return claims.expiresAt.getTime() / 1000 <= Math.floor(now.getTime() / 1000) - CLOCK_TOLERANCE_SECONDS;
}
