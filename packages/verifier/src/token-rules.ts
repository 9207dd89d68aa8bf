import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isUuid } from './wire.js';

/** The rules tidepass applies to its own access tokens (src/auth/access-tokens.ts), kept identical. */
export const SIGNING_ALGORITHM = 'ES256';
/** Explicit typing (RFC 9068): an ID token or any other JWT of the issuer is not an access token. */
export const TOKEN_TYPE = 'at+jwt';
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Far above any token tidepass issues; a larger one is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;

export interface Claims {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** Authentication methods (RFC 8176), when the token carries them. */
  readonly amr?: readonly string[];
  /** When the user last authenticated (`auth_time`), when the token carries it. */
  readonly authTime?: Date;
  /** The whole verified payload, for claims this package does not name. */
  readonly payload: Readonly<JWTPayload>;
}

export type ClaimsCheck =
  | { readonly ok: true; readonly claims: Claims }
  | { readonly ok: false; readonly code: 'INVALID_TOKEN' | 'TOKEN_EXPIRED' };

export interface TokenRules {
  readonly issuer: string;
  readonly audience: string;
  /** Seconds: no token is accepted longer than this after its `iat`, whatever its `exp` says. */
  readonly maxTokenAge: number;
}

/**
 * Only ES256, pinned issuer, audience and type, UUID ids. TOKEN_EXPIRED is said only of a token whose
 * signature verified: jose checks claims after the signature. Errors of the key lookup that are not
 * jose's (an unreachable JWKS) propagate: an outage must not read as an invalid token.
 */
export async function checkClaims(token: string, key: JWTVerifyGetKey, rules: TokenRules, now: Date): Promise<ClaimsCheck> {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, code: 'INVALID_TOKEN' };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [SIGNING_ALGORITHM],
      issuer: rules.issuer,
      audience: rules.audience,
      typ: TOKEN_TYPE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
      maxTokenAge: rules.maxTokenAge,
      currentDate: now,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, code: 'TOKEN_EXPIRED' };
    if (error instanceof errors.JOSEError || error instanceof TypeError) return { ok: false, code: 'INVALID_TOKEN' };
    throw error;
  }
  const claims = toClaims(payload);
  return claims ? { ok: true, claims } : { ok: false, code: 'INVALID_TOKEN' };
}

function toClaims(payload: JWTPayload): Claims | null {
  const { sub, sid, jti, exp, iat, amr, auth_time: authTime } = payload;
  // Ids tidepass issues are UUIDs: anything else is not its token, whoever signed it.
  if (!isUuid(sub) || !isUuid(sid) || typeof jti !== 'string' || typeof exp !== 'number' || typeof iat !== 'number') return null;
  if (amr !== undefined && !(Array.isArray(amr) && amr.every((method) => typeof method === 'string'))) return null;
  if (authTime !== undefined && typeof authTime !== 'number') return null;
  return {
    userId: sub,
    sessionId: sid,
    tokenId: jti,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    ...(amr !== undefined && { amr: Object.freeze([...(amr)]) }),
    ...(authTime !== undefined && { authTime: new Date(authTime * 1000) }),
    payload: Object.freeze({ ...payload }),
  };
}

/**
 * Whether claims verified earlier have since expired, by jose's own rules: `exp <= now - tolerance`
 * in whole seconds, or older than `maxTokenAge` plus the tolerance.
 */
export function hasExpired(claims: Claims, maxTokenAge: number, now: Date): boolean {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const exp = claims.expiresAt.getTime() / 1000;
  const iat = claims.issuedAt.getTime() / 1000;
  return exp <= nowSeconds - CLOCK_TOLERANCE_SECONDS || nowSeconds - iat - CLOCK_TOLERANCE_SECONDS > maxTokenAge;
}
