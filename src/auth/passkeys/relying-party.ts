import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Clock } from '../../clock.js';
import type { ChallengePurpose, ChallengeRow } from '../../db/passkeys.js';
import { badInput, AuthError } from '../../errors.js';
import { constantTimeEqual, sha256Hex } from '../crypto.js';

/** Who we are to authenticators: the RP ID (a host name) and the page origins allowed to ask. */
export interface RelyingParty {
  /** The host of PUBLIC_URL: credentials are scoped to it (and its subdomains' pages may use it). */
  readonly id: string;
  readonly name: string;
  /** PUBLIC_URL's origin plus WEBAUTHN_ORIGINS: clientDataJSON.origin must be one of them. */
  readonly origins: readonly string[];
}

/** How long a challenge may be answered: also the `timeout` the browser is given. */
export const CHALLENGE_TTL_SECONDS = 300;

/** A fresh challenge (256 random bits) and the row that remembers it, by hash only. */
export function newChallenge(
  clock: Clock,
  input: { purpose: ChallengePurpose; userId?: string | null; mfaTokenId?: string | null },
): { challenge: Uint8Array<ArrayBuffer>; row: (hash: string) => ChallengeRow } {
  const now = clock();
  return {
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    row: (challengeHash) => ({
      id: crypto.randomUUID(),
      challengeHash,
      purpose: input.purpose,
      userId: input.userId ?? null,
      mfaTokenId: input.mfaTokenId ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + CHALLENGE_TTL_SECONDS * 1000),
    }),
  };
}

/** A challenge that was taken out of the store: gone (unknown or already answered) or too old is CHALLENGE_EXPIRED. */
export function checkTaken(row: ChallengeRow | null, now: Date): ChallengeRow {
  if (!row || row.expiresAt.getTime() <= now.getTime()) throw new AuthError('CHALLENGE_EXPIRED');
  return row;
}

/** For SimpleWebAuthn's expectedChallenge: the challenge in clientDataJSON is the one whose hash we kept. */
export function matchesChallenge(row: ChallengeRow): (challenge: string) => boolean {
  return (challenge) => constantTimeEqual(sha256Hex(challenge), row.challengeHash);
}

/** The challenge a response claims to answer, read from its clientDataJSON; null when unreadable. */
export function claimedChallenge(response: { response: { clientDataJSON: string } }): string | null {
  try {
    const clientData = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as unknown;
    const challenge = (clientData as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' ? challenge : null;
  } catch {
    return null;
  }
}

/**
 * The outer shape of a browser's response (what we read before SimpleWebAuthn verifies the rest):
 * anything else is BAD_USER_INPUT rather than PASSKEY_REJECTED, a client bug rather than a refusal.
 */
export function asRegistrationResponse(value: unknown, field: string): RegistrationResponseJSON {
  checkShape(value, field, ['clientDataJSON', 'attestationObject']);
  return value as RegistrationResponseJSON;
}

export function asAuthenticationResponse(value: unknown, field: string): AuthenticationResponseJSON {
  checkShape(value, field, ['clientDataJSON', 'authenticatorData', 'signature']);
  return value as AuthenticationResponseJSON;
}

function checkShape(value: unknown, field: string, strings: readonly string[]): void {
  const record = value as { id?: unknown; rawId?: unknown; type?: unknown; response?: Record<string, unknown> } | null;
  const ok =
    typeof record === 'object' &&
    record !== null &&
    typeof record.id === 'string' &&
    record.id.length > 0 &&
    record.id.length <= 1024 &&
    typeof record.rawId === 'string' &&
    typeof record.response === 'object' &&
    record.response !== null &&
    strings.every((key) => typeof record.response?.[key] === 'string');
  if (!ok) throw badInput(field, `${field} must be the JSON of a WebAuthn public key credential (from @simplewebauthn/browser).`);
}

/** SimpleWebAuthn wants Uint8Array<ArrayBuffer>; we store base64url. */
export function bytesOf(base64url: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(base64url, 'base64url'));
}
