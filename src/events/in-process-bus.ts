import { DeliveredEnds, ListenerSet } from './listeners.js';
import type { RevocationBus, SessionRevoked } from './revocation-bus.js';
import { fromWire } from './revocation-wire.js';

export interface InProcessBusOptions {
  readonly onListenerError: (error: unknown) => void;
  /**
   * The database's own announcements (a live session's row deleted: see
   * drizzle/0005_announce_deleted_sessions.sql), as NOTIFY payloads. Resolves to the unlisten function.
   */
  readonly listenToDatabase?: (onPayload: (payload: string) => void) => Promise<() => Promise<void>>;
}

/** For one process (the embedded database): local delivery after commit is all there is. */
export function createInProcessBus(options: InProcessBusOptions): RevocationBus {
  const listeners = new ListenerSet(options.onListenerError);
  const delivered = new DeliveredEnds();
  const deliver = (events: readonly SessionRevoked[]) => {
    for (const event of events) if (delivered.isNew(event)) listeners.emit(event);
  };
  let unlisten: (() => Promise<void>) | undefined;
  return {
    announce: async () => {},
    deliverLocally: deliver,
    subscribe: (listener) => listeners.add(listener),
    async start() {
      unlisten = await options.listenToDatabase?.((payload) => {
        const received = fromWire(payload);
        if (received) deliver(received.events);
      });
    },
    async stop() {
      // The database may be closed already (its owner stops it first): nothing left to unlisten from.
      await unlisten?.().catch(() => {});
    },
  };
}
