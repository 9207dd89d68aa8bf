import type { Transaction } from '../db/client.js';

export const revocationReasons = [
  'LOGOUT',
  'REVOKED_BY_USER',
  'OTHER_SESSIONS_REVOKED',
  'REFRESH_TOKEN_REUSE',
  'PASSWORD_CHANGED',
  'SESSION_LIMIT',
  'EXPIRED',
  'ADMIN',
  'PASSWORD_RESET',
  'EMAIL_CHANGED',
  'ACCOUNT_DELETED',
] as const;
export type RevocationReason = (typeof revocationReasons)[number];

/** One ended session, as every instance and subscriber learns of it. */
export interface SessionRevoked {
  readonly sessionId: string;
  readonly userId: string;
  readonly reason: RevocationReason;
  readonly revokedAt: Date;
}

export type RevocationListener = (event: SessionRevoked) => void;

/**
 * The seam between "a session ended" and everyone who must know: the in-memory revocation set of
 * every instance, and live subscribers. Implementations: in process (one instance, PGlite) and
 * PostgreSQL LISTEN/NOTIFY (many instances on one database).
 */
export interface RevocationBus {
  /**
   * Called inside the transaction that ends the sessions, so that a revocation that rolls back
   * announces nothing and one that commits is never lost.
   */
  announce(tx: Transaction, events: readonly SessionRevoked[]): Promise<void>;
  /**
   * Called after that transaction commits: hands the events to this instance's listeners at once,
   * so the caller's next request is refused without waiting for a round trip through the database.
   */
  deliverLocally(events: readonly SessionRevoked[]): void;
  /** Listens to revocations from this and every other instance. Returns the unsubscribe function. */
  subscribe(listener: RevocationListener): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}
