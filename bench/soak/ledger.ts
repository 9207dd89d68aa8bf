import { bump } from './util.js';

/** A session as the load knows it: its latest tokens, and whether its end was acknowledged. */
export interface TrackedSession {
  readonly id: string;
  readonly userId: string;
  accessToken: string;
  refreshToken: string;
  /** Tokens it spent, with when their successor arrived: replayed later on purpose. */
  readonly spent: { token: string; at: number }[];
  /** When an answer acknowledged its end (soak clock, ms); that answer's kind. */
  endAckedAt?: number;
  endKind?: string;
  /** When the request that ended it was sent. */
  endSentAt?: number;
  /** A refresh of it went unanswered: its token may be spent, with a successor we never saw. */
  refreshUnanswered?: boolean;
  /** No longer used by the load: ended in a way not acknowledged to it, or its state is unknown. */
  retired?: string;
}

export interface Violation {
  readonly what: string;
  readonly sessionId: string;
  readonly instance?: string;
  /** Milliseconds after the end was acknowledged. */
  readonly afterAckMs?: number;
  /** Seconds into the load when the contradicting request was sent (compare with the faults' times). */
  readonly atS?: number;
  readonly detail?: string;
}

/**
 * What the instances acknowledged, and what they did afterwards that contradicts it. The checks at
 * the end compare this with the database.
 */
export class Ledger {
  /** The soak clock's reading when the load started: violations' times are counted from it. */
  constructor(private readonly origin: number) {}

  /** Seconds into the load at soak-clock time `at`. */
  secondsAt(at: number): number {
    return Math.round((at - this.origin) / 100) / 10;
  }

  readonly sessions = new Map<string, TrackedSession>();
  readonly #byUser = new Map<string, TrackedSession[]>();
  /** Acknowledged ends by kind (logout, revokeDevice, revokeOtherSessions, changePassword, reuse). */
  readonly endsByKind: Record<string, number> = {};
  /** Probes of ended sessions' access tokens, by outcome (refused codes, or ACCEPTED). */
  readonly probeOutcomes: Record<string, number> = {};
  /** Refreshes of ended sessions' refresh tokens, by outcome. */
  readonly endedRefreshOutcomes: Record<string, number> = {};
  /** Why live sessions were retired (answers that ended them without our asking, unknown outcomes). */
  readonly retiredByReason: Record<string, number> = {};
  readonly acceptedLate: Violation[] = [];
  readonly refreshedAfterEnd: Violation[] = [];
  readonly forks: Violation[] = [];

  track(session: Omit<TrackedSession, 'spent'>): TrackedSession {
    const tracked: TrackedSession = { ...session, spent: [] };
    this.sessions.set(tracked.id, tracked);
    const ofUser = this.#byUser.get(tracked.userId) ?? [];
    this.#byUser.set(tracked.userId, [...ofUser.filter((s) => s.endAckedAt === undefined && !s.retired), tracked]);
    return tracked;
  }

  /** An answer said this session has ended. The first acknowledgement counts. */
  ackEnd(session: TrackedSession, kind: string, sentAt: number, at: number): boolean {
    if (session.endAckedAt !== undefined) return false;
    session.endAckedAt = at;
    session.endSentAt = sentAt;
    session.endKind = kind;
    bump(this.endsByKind, kind);
    return true;
  }

  retire(session: TrackedSession, reason: string): void {
    if (session.retired || session.endAckedAt !== undefined) return;
    session.retired = reason;
    bump(this.retiredByReason, reason);
  }

  /** A refresh answered with a successor: contradicts an end acknowledged before it was sent. */
  refreshed(session: TrackedSession, sentAt: number, instance: string): void {
    if (session.endAckedAt !== undefined && sentAt > session.endAckedAt) {
      this.refreshedAfterEnd.push({
        what: 'refresh honoured after its session ended',
        sessionId: session.id,
        instance,
        afterAckMs: Math.round(sentAt - session.endAckedAt),
        atS: this.secondsAt(sentAt),
        detail: session.endKind,
      });
    }
  }

  /** A probe of an ended session's access token, sent at least the propagation bound after its end. */
  probed(session: TrackedSession, instance: string, sentAt: number, outcome: string): void {
    bump(this.probeOutcomes, outcome);
    if (outcome === 'ACCEPTED') {
      this.acceptedLate.push({
        what: 'access token accepted after the propagation bound',
        sessionId: session.id,
        instance,
        afterAckMs: Math.round(sentAt - session.endAckedAt!),
        atS: this.secondsAt(sentAt),
        detail: session.endKind,
      });
    }
  }

  endedRefresh(session: TrackedSession, instance: string, sentAt: number, outcome: string): void {
    bump(this.endedRefreshOutcomes, outcome);
    if (outcome === 'ok') this.refreshed(session, sentAt, instance);
  }

  /** Live (as far as the load knows) sessions of a user, in creation order. */
  liveSessionsOf(userId: string): TrackedSession[] {
    return (this.#byUser.get(userId) ?? []).filter((s) => s.endAckedAt === undefined && !s.retired);
  }

  ackedEnds(): TrackedSession[] {
    return [...this.sessions.values()].filter((s) => s.endAckedAt !== undefined);
  }
}
