import { and, gt, isNotNull } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import type { Executor } from '../db/client.js';
import { deletedSessions, sessions } from '../db/schema.js';
import { revocationReasons, type RevocationReason, type SessionRevoked } from '../events/revocation-bus.js';

/**
 * The in-memory set of sessions ended recently enough that an access token of theirs may still be
 * unexpired. Reading it is what makes revocation instant without a database query per request.
 * Fed by the revocation bus (from this and other instances) and loaded from the database at start.
 */
export class RevocationSet {
  /** sessionId -> when it ended (ms). */
  readonly #ended = new Map<string, number>();
  readonly #windowMs: number;
  #synchronised = true;
  /** Bumped at every desynchronisation, so a reload that started before the latest one can't vouch for it. */
  #epoch = 0;

  /**
   * @param accessTokenTtl seconds; an entry older than this plus the verification tolerance can no
   *   longer match a live access token and is dropped.
   */
  constructor(
    accessTokenTtl: number,
    private readonly clock: Clock,
    toleranceSeconds = 30,
  ) {
    this.#windowMs = (accessTokenTtl + toleranceSeconds) * 1000;
  }

  /**
   * False while this instance may have missed revocations (its LISTEN connection dropped and the
   * reload has not finished): then the set must not be trusted and the database is asked instead.
   */
  get synchronised(): boolean {
    return this.#synchronised;
  }

  markDesynchronised(): void {
    this.#synchronised = false;
    this.#epoch += 1;
  }

  /** How long an end matters: also how long the database keeps a deleted session's tombstone. */
  get windowSeconds(): number {
    return this.#windowMs / 1000;
  }

  get size(): number {
    return this.#ended.size;
  }

  has(sessionId: string): boolean {
    return this.#ended.has(sessionId);
  }

  /**
   * An end in the future is taken as now: the entry is dropped a window after it, so a later one
   * (a skewed clock, or a forged notification: any database role can NOTIFY) would shut the
   * session's every new access token out until the process restarts.
   */
  add(sessionId: string, endedAt: Date): void {
    const now = this.clock().getTime();
    const at = endedAt.getTime();
    this.#ended.set(sessionId, Number.isFinite(at) && at < now ? at : now);
  }

  /** Drops entries that no unexpired access token can refer to any more. */
  prune(): void {
    const horizon = this.clock().getTime() - this.#windowMs;
    for (const [sessionId, endedAt] of this.#ended) {
      if (endedAt < horizon) this.#ended.delete(sessionId);
    }
  }

  /**
   * Sessions ended within the window, from the database: what a fresh or reconnected instance needs.
   * Returns the ends this set did not know of: after a LISTEN gap, the revocations this instance
   * missed, which its live subscribers must still hear of. A session deleted outright has no row left
   * to find: its tombstone (drizzle/0009) stands in for it (ended by an ADMIN if it was live).
   */
  async loadFrom(db: Executor): Promise<SessionRevoked[]> {
    const epoch = this.#epoch;
    const since = new Date(this.clock().getTime() - this.#windowMs);
    // Both in one statement: one round trip in a reconnect that is holding requests to the database.
    const rows = await db
      .select({ sessionId: sessions.id, userId: sessions.userId, endedAt: sessions.endedAt, reason: sessions.endReason })
      .from(sessions)
      .where(and(isNotNull(sessions.endedAt), gt(sessions.endedAt, since)))
      .unionAll(
        db
          .select({
            sessionId: deletedSessions.sessionId,
            userId: deletedSessions.userId,
            endedAt: deletedSessions.endedAt,
            reason: deletedSessions.endReason,
          })
          .from(deletedSessions)
          .where(gt(deletedSessions.endedAt, since)),
      );
    // Events that arrived while the query ran are in the set already (and were delivered): keep them.
    const learned: SessionRevoked[] = [];
    for (const row of rows) {
      const revokedAt = row.endedAt ?? since;
      if (!this.#ended.has(row.sessionId)) {
        learned.push({ sessionId: row.sessionId, userId: row.userId, reason: asReason(row.reason), revokedAt });
      }
      this.add(row.sessionId, revokedAt);
    }
    // The connection dropped again while this ran: only the reload after that one may resynchronise.
    if (epoch === this.#epoch) this.#synchronised = true;
    return learned;
  }
}

/** A reason the database holds; every end is written with one of ours, ADMIN covers a hand-made one. */
function asReason(reason: string | null): RevocationReason {
  return (revocationReasons as readonly (string | null)[]).includes(reason) ? (reason as RevocationReason) : 'ADMIN';
}
