import { runAfter, type Clock } from '../clock.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import type { Logger } from '../logger.js';
import type { ClientInfo, SessionSelection } from './sessions.js';

/**
 * Runs `retry` after `delayMs` of real time; returns the cancel function. The promise `retry`
 * returns settles when the attempt has: a test that fires its timers by hand awaits it.
 */
export type RetryTimer = (delayMs: number, retry: () => Promise<void>) => () => void;

export const realRetryTimer: RetryTimer = (delayMs, retry) => runAfter(delayMs, () => void retry());

/** The durable end, as for any other (SessionLifecycle.end: announced to every instance, audited). */
export type EndSessions = (selection: SessionSelection, reason: RevocationReason, client?: ClientInfo) => Promise<SessionRevoked[]>;

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
/** Bounds the memory an outage with many logouts can take; each entry is a few hundred bytes. */
const DEFAULT_CAPACITY = 10_000;

interface PendingEnd {
  readonly userId: string;
  readonly sessionId: string;
  readonly reason: RevocationReason;
  readonly client: ClientInfo | undefined;
}

/**
 * Session ends that could not be written because the database was unavailable: this instance
 * refuses the session at once (as if the end had been announced) and keeps writing the end in the
 * background, backing off from 1 s to 30 s, until it commits; then it is announced to every
 * instance and audited like any other. Held in memory only: if this process dies first, the end is
 * lost and the session lives on (its access token accepted by other instances until it expires).
 */
export class PendingEnds {
  /** By session id, oldest first: a second logout of the same session while pending adds nothing. */
  readonly #pending = new Map<string, PendingEnd>();
  /** When each pending end was taken (beside #pending, whose values are the callers'). */
  readonly #since = new WeakMap<PendingEnd, Date>();
  readonly #capacity: number;
  readonly #timer: RetryTimer;
  #attempt = 0;
  #cancelTimer: (() => void) | undefined;
  #retrying = false;
  #stopped = false;

  constructor(
    private readonly deps: {
      end: EndSessions;
      bus: RevocationBus;
      clock: Clock;
      logger: Logger;
      timer?: RetryTimer;
      capacity?: number;
    },
  ) {
    this.#timer = deps.timer ?? realRetryTimer;
    this.#capacity = deps.capacity ?? DEFAULT_CAPACITY;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** When the oldest end still pending was refused here; undefined when none is pending. */
  get oldestSince(): Date | undefined {
    const [oldest] = this.#pending.keys();
    return oldest === undefined ? undefined : this.#since.get(this.#pending.get(oldest)!);
  }

  /**
   * Refuses the session on this instance now and ends it durably as soon as the database lets us.
   * Applied as a received revocation is (the bus's local delivery): the revocation set refuses its
   * access token, and this instance's subscribers of the user hear of it, its own sockets closed.
   */
  endLater(end: PendingEnd): void {
    if (this.#stopped) return;
    this.deps.bus.deliverLocally([
      { sessionId: end.sessionId, userId: end.userId, reason: end.reason, revokedAt: this.deps.clock() },
    ]);
    if (!this.#pending.has(end.sessionId)) {
      if (this.#pending.size >= this.#capacity) this.#dropOldest();
      this.#pending.set(end.sessionId, end);
      this.#since.set(end, this.deps.clock());
    }
    this.#schedule();
  }

  /** No more retries (shutdown). What is still pending is lost: said in the log. */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#pending.size > 0) {
      this.deps.logger.warn('session ends still pending at shutdown are lost', { count: this.#pending.size });
    }
    this.#pending.clear();
  }

  #dropOldest(): void {
    const [oldest] = this.#pending.keys();
    this.#pending.delete(oldest!);
    // The session stays refused here until its access token expires; only the durable end is given up.
    this.deps.logger.warn('too many pending session ends; dropped the oldest', { capacity: this.#capacity });
  }

  #schedule(): void {
    if (this.#stopped || this.#cancelTimer || this.#retrying || this.#pending.size === 0) return;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** this.#attempt, MAX_RETRY_MS);
    this.#cancelTimer = this.#timer(delay, () => {
      this.#cancelTimer = undefined;
      return this.#retry();
    });
  }

  async #retry(): Promise<void> {
    if (this.#stopped) return;
    this.#retrying = true;
    // All at once: SessionEnds group-commits concurrent ends into a few transactions.
    const attempted = [...this.#pending.values()];
    const outcomes = await Promise.allSettled(
      attempted.map(async (end) => this.deps.end({ userId: end.userId, sessionIds: [end.sessionId] }, end.reason, end.client)),
    );
    this.#retrying = false;
    if (this.#stopped) return;
    let unavailable = false;
    for (const [i, outcome] of outcomes.entries()) {
      // Committed, or found already ended (nothing to end): done either way.
      if (outcome.status === 'fulfilled') this.#pending.delete(attempted[i]!.sessionId);
      else if (isDatabaseUnavailable(outcome.reason)) unavailable = true;
      else {
        // A failure that waiting will not cure: retrying forever would only fill the log.
        this.#pending.delete(attempted[i]!.sessionId);
        this.deps.logger.error('gave up a pending session end', { error: outcome.reason });
      }
    }
    this.#attempt = unavailable ? Math.min(this.#attempt + 1, 16) : 0;
    this.#schedule();
  }
}
