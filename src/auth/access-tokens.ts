import { errors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../clock.js';
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
}

export class AccessTokens {
  constructor(private readonly options: AccessTokenOptions) {}

  /** Signs a token for one session; it never outlives `notAfter` (the session's own end). */
  async issue(subject: { userId: string; sessionId: string; notAfter: Date }): Promise<{
    token: string;
    expiresAt: Date;
  }> {
    const { keys, issuer, audience, ttl, clock } = this.options;
    const now = Math.floor(clock().getTime() / 1000);
    const exp = Math.max(now + 1, Math.min(now + ttl, Math.floor(subject.notAfter.getTime() / 1000)));
    const token = await new SignJWT({ sid: subject.sessionId })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: keys.kid, typ: TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject.userId)
      .setJti(crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(keys.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Only ES256, only our keys (by kid), pinned issuer, audience and type. TOKEN_EXPIRED is said only of
   * a token whose signature verified: jose checks claims after the signature.
   */
  async verify(token: string): Promise<AccessTokenCheck> {
    const { keys, issuer, audience, clock } = this.options;
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, code: 'INVALID_TOKEN' };
    try {
      const { payload } = await jwtVerify(token, keys.verificationKeys, {
        algorithms: [SIGNING_ALGORITHM],
        issuer,
        audience,
        typ: TOKEN_TYPE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
        currentDate: clock(),
      });
      const { sub, sid, jti, exp } = payload;
      if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') {
        return { ok: false, code: 'INVALID_TOKEN' };
      }
      return { ok: true, claims: { userId: sub, sessionId: sid, tokenId: jti, expiresAt: new Date(exp * 1000) } };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, code: 'TOKEN_EXPIRED' };
      if (error instanceof errors.JOSEError || error instanceof TypeError) return { ok: false, code: 'INVALID_TOKEN' };
      throw error;
    }
  }
}
