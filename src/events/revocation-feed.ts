import { Repeater } from '@repeaterjs/repeater';
import { runAfter, type Clock } from '../clock.js';
import type { RevocationBus, SessionRevoked } from './revocation-bus.js';

export interface FeedBounds {
  /** The subscriber's own session: the feed ends right after announcing that this one ended. */
  readonly sessionId: string;
  /** When the subscriber's credential expires: the feed ends then, whatever the transport. */
  readonly until: Date;
}

/**
 * Revocations keyed by user: a subscriber receives only its own user's events, looked up by key
 * rather than filtered out of everyone's. One bus listener for the whole instance.
 */
export class RevocationFeed {
  readonly #byUser = new Map<string, Set<(event: SessionRevoked) => void>>();
  readonly #unsubscribe: () => void;

  constructor(
    bus: RevocationBus,
    private readonly clock: Clock,
  ) {
    this.#unsubscribe = bus.subscribe((event) => {
      for (const push of this.#byUser.get(event.userId) ?? []) push(event);
    });
  }

  /** How many subscriptions are open: for leak checks. */
  get subscriberCount(): number {
    let count = 0;
    for (const pushes of this.#byUser.values()) count += pushes.size;
    return count;
  }

  /**
   * The user's revocations from now on, until the consumer returns (which releases it at once), the
   * subscriber's own session ends, or its credential expires: a stream (SSE as much as a socket)
   * must not outlive the session that opened it.
   */
  subscribe(userId: string, bounds: FeedBounds): AsyncIterableIterator<SessionRevoked> {
    return new Repeater<SessionRevoked>(async (push, stop) => {
      const deliver = (event: SessionRevoked) => {
        void push(event);
        if (event.sessionId === bounds.sessionId) stop();
      };
      const pushes = this.#byUser.get(userId) ?? new Set();
      pushes.add(deliver);
      this.#byUser.set(userId, pushes);
      const cancelExpiry = runAfter(bounds.until.getTime() - this.clock().getTime(), () => stop());
      await stop;
      cancelExpiry();
      pushes.delete(deliver);
      if (pushes.size === 0) this.#byUser.delete(userId);
    });
  }

  close(): void {
    this.#unsubscribe();
  }
}
