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
