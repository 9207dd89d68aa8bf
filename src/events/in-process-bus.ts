import { ListenerSet } from './listeners.js';
import type { RevocationBus } from './revocation-bus.js';

/** For one process (the embedded database): local delivery after commit is all there is. */
export function createInProcessBus(options: { onListenerError: (error: unknown) => void }): RevocationBus {
  const listeners = new ListenerSet(options.onListenerError);
  return {
    announce: async () => {},
    deliverLocally: (events) => events.forEach((event) => listeners.emit(event)),
    subscribe: (listener) => listeners.add(listener),
    start: async () => {},
    stop: async () => {},
  };
}
