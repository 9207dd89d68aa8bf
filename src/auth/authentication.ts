import type { AccessTokens } from './access-tokens.js';
import type { RevocationSet } from './revocations.js';
import type { SessionLifecycle } from './sessions.js';

/** Who is calling, established from a verified access token of a live session. */
export interface Viewer {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenExpiresAt: Date;
  /** The access token's `auth_time`: when the user last proved themselves (step-up reads it). */
  readonly authTime: Date | null;
}

export type Authentication =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'signed-in'; readonly viewer: Viewer }
  | {
      readonly kind: 'refused';
      readonly code: 'TOKEN_EXPIRED' | 'INVALID_TOKEN' | 'SESSION_REVOKED' | 'SERVICE_UNAVAILABLE';
      /**
       * SERVICE_UNAVAILABLE only: whom the token names (signature and expiry checked); whether its
       * session has ended could not be read. Enough to log that session out, never to act as it.
       */
      readonly claimed?: Viewer;
    };

/** The access token of a request or socket operation, checked against the sessions that have ended. */
export class Authenticator {
  constructor(
    private readonly deps: { accessTokens: AccessTokens; revocations: RevocationSet; sessions: SessionLifecycle },
  ) {}

  /** Reads `Authorization: Bearer <jwt>`; the database only while the revocation set may be stale. */
  async authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (!authorization) return { kind: 'anonymous' };
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) return { kind: 'refused', code: 'INVALID_TOKEN' };
    const check = await this.deps.accessTokens.verify(match[1]!);
    if (!check.ok) return { kind: 'refused', code: check.code };
    const { userId, sessionId, expiresAt, authTime } = check.claims;
    // Keyed on sid, never on the token string: ECDSA signatures are malleable.
    const ended = await this.#hasEnded(sessionId);
    const viewer = { userId, sessionId, tokenExpiresAt: expiresAt, authTime };
    if (ended === 'unknown') return { kind: 'refused', code: 'SERVICE_UNAVAILABLE', claimed: viewer };
    if (ended) return { kind: 'refused', code: 'SESSION_REVOKED' };
    return { kind: 'signed-in', viewer };
  }

  /** Whether this instance already knows the session ended; synchronous, for transports re-checking. */
  hasEndedLocally(sessionId: string): boolean {
    return this.deps.revocations.has(sessionId);
  }

  /** The in-memory set; the database only while the set may be stale (after a lost LISTEN connection). */
  async #hasEnded(sessionId: string): Promise<boolean | 'unknown'> {
    const { revocations, sessions } = this.deps;
    if (revocations.has(sessionId)) return true;
    if (revocations.synchronised) return false;
    try {
      const session = await sessions.findSession(sessionId);
      return !session || session.endedAt !== null;
    } catch {
      // Neither "valid" nor "invalid token": the truth cannot be known right now.
      return 'unknown';
    }
  }
}
