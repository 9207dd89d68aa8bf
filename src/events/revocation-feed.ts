import { Repeater } from '@repeaterjs/repeater';
import type { RevocationBus, SessionRevoked } from './revocation-bus.js';

/**
 * Revocations keyed by user: a subscriber receives only its own user's events, looked up by key
 * rather than filtered out of everyone's. One bus listener for the whole instance.
 */
export class RevocationFeed {
  readonly #byUser = new Map<string, Set<(event: SessionRevoked) => void>>();
  readonly #unsubscribe: () => void;

  constructor(bus: RevocationBus) {
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

  /** The user's revocations from now on, until the consumer returns (which releases it at once). */
  subscribe(userId: string): AsyncIterableIterator<SessionRevoked> {
    return new Repeater<SessionRevoked>(async (push, stop) => {
      const deliver = (event: SessionRevoked) => void push(event);
      const pushes = this.#byUser.get(userId) ?? new Set();
      pushes.add(deliver);
      this.#byUser.set(userId, pushes);
      await stop;
      pushes.delete(deliver);
      if (pushes.size === 0) this.#byUser.delete(userId);
    });
  }

  close(): void {
    this.#unsubscribe();
  }
}
