import type { Deadlines, Expiring } from '../deadlines.js';
import { transportRefusals } from '../errors.js';
import type { RevocationBus } from '../events/revocation-bus.js';
import type { Connection } from './ws-connection.js';

/** graphql-ws's Forbidden. Not 4401: its client treats 4401 as fatal and never retries, but retries 4403. */
export const CLOSE_FORBIDDEN = 4403;
/** Time for the "current" revocation event to go out before its socket is closed. */
const REVOKED_CLOSE_DELAY_MS = 30;

/** Closes a socket with 4403 and the reason clients match on. */
export function closeForbidden(connection: Connection, code: 'SESSION_REVOKED' | 'TOKEN_EXPIRED'): void {
  connection.socket.close(CLOSE_FORBIDDEN, transportRefusals[code]);
}

/**
 * Authenticated sockets by session, so that the end of a session closes its sockets (4403), and each
 * socket's token expiry on the instance's shared deadlines.
 */
export class SocketRegistry {
  /** One connection, or a set when a session has several sockets. */
  readonly #bySession = new Map<string, Connection | Set<Connection>>();
  #size = 0;

  constructor(private readonly expiries: Deadlines<Expiring>) {}

  /** Open, authenticated sockets. */
  get size(): number {
    return this.#size;
  }

  register(connection: Connection, sessionId: string, remainingMs: number): void {
    connection.sessionId = sessionId;
    this.#size += 1;
    connection.expiry = this.expiries.schedule(connection, remainingMs);
    const connections = this.#bySession.get(sessionId);
    if (!connections) this.#bySession.set(sessionId, connection);
    else if (connections instanceof Set) connections.add(connection);
    else this.#bySession.set(sessionId, new Set([connections, connection]));
  }

  /** Forgets the connection (idempotent); it no longer runs operations. */
  release(connection: Connection): void {
    const { sessionId } = connection;
    if (sessionId === undefined) return;
    connection.sessionId = undefined;
    this.#size -= 1;
    this.expiries.cancel(connection, connection.expiry);
    const connections = this.#bySession.get(sessionId);
    if (connections === connection) {
      this.#bySession.delete(sessionId);
    } else if (connections instanceof Set && connections.delete(connection)) {
      const [only, more] = connections;
      if (!more) this.#bySession.set(sessionId, only!);
    }
  }

  close(connection: Connection, code: 'SESSION_REVOKED' | 'TOKEN_EXPIRED'): void {
    this.release(connection);
    closeForbidden(connection, code);
  }

  /** Closes the sockets of every session that ends; returns the unsubscribe. */
  closeOnRevocation(bus: RevocationBus): () => void {
    return bus.subscribe((event) => {
      const connections = this.#bySession.get(event.sessionId);
      if (!connections) return;
      // The subscription sends the event first (see onNext); this catches sockets without one.
      for (const connection of connections instanceof Set ? connections : [connections]) {
        setTimeout(() => connection.sessionId !== undefined && this.close(connection, 'SESSION_REVOKED'), REVOKED_CLOSE_DELAY_MS);
      }
    });
  }
}
