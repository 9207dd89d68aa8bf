import type { RevocationListener, SessionRevoked } from './revocation-bus.js';

/** The fan-out shared by both buses; a listener that throws cannot starve the others. */
export class ListenerSet {
  readonly #listeners = new Set<RevocationListener>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  get size(): number {
    return this.#listeners.size;
  }

  add(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SessionRevoked): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

/** A burst of ends larger than this between an end's two arrivals is not expected; each entry is ~100 bytes. */
const REMEMBERED_ENDS = 20_000;

/**
 * The sessions whose end this instance has delivered, so that an end arriving twice (after commit
 * and again as its own notification, or live and again in a reload) reaches listeners once. A
 * session ends once, so its id is the key; the oldest are forgotten past the capacity.
 */
export class DeliveredEnds {
  readonly #seen = new Set<string>();

  constructor(private readonly capacity = REMEMBERED_ENDS) {}

  /** True the first time a session's end is seen. */
  isNew(event: SessionRevoked): boolean {
    if (this.#seen.has(event.sessionId)) return false;
    this.#seen.add(event.sessionId);
    if (this.#seen.size > this.capacity) this.#seen.delete(this.#seen.values().next().value!);
    return true;
  }
}
