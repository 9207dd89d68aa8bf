import { CloseCode } from 'graphql-ws';
import { Deadlines } from '../deadlines.js';
import type { Connection } from './ws-connection.js';

/** graphql-ws's default: connection_init within 3 s of the upgrade. */
const CONNECTION_INIT_WAIT_MS = 3_000;

/** Every socket's wait for connection_init, on one timer: graphql-ws's own keeps its spent timer per socket. */
export class InitWaits {
  readonly #deadlines = new Deadlines<Connection>((connection) => {
    connection.initWait = undefined;
    connection.socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
  });

  start(connection: Connection): void {
    connection.initWait = this.#deadlines.schedule(connection, CONNECTION_INIT_WAIT_MS);
  }

  /** connection_init arrived, or the socket closed first. */
  end(connection: Connection): void {
    if (connection.initWait === undefined) return;
    this.#deadlines.cancel(connection, connection.initWait);
    connection.initWait = undefined;
  }

  clear(): void {
    this.#deadlines.clear();
  }
}
