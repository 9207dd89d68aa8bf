import type { Server } from 'node:http';
import { CloseCode, handleProtocols } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthService } from '../auth/service.js';
import type { Clock } from '../clock.js';
import type { Deadlines, Expiring } from '../deadlines.js';
import type { RevocationBus } from '../events/revocation-bus.js';
import { clientInfo } from '../graphql/caller.js';
import { proxyCheck, type TrustProxy } from '../graphql/trusted-proxies.js';
import type { TidepassYoga } from '../graphql/yoga.js';
import type { Logger } from '../logger.js';
import { InitWaits } from './init-wait.js';
import { KeepAlive } from './keep-alive.js';
import { SocketRegistry } from './socket-registry.js';
import { verifyUpgradeOrigin } from './upgrade-origin.js';
import { Connection, type ConnectionOwner } from './ws-connection.js';
import { Executions } from './ws-operations.js';
import { createProtocolServer } from './ws-protocol.js';

export { CLOSE_FORBIDDEN } from './socket-registry.js';
export { MAX_OPERATIONS_PER_SOCKET } from './ws-operations.js';

/** The standard close code for a server going away (graphql-ws's CloseCode has none). */
const CLOSE_GOING_AWAY = 1001;

export interface WebSocketTransport {
  /** Open, authenticated sockets: for leak checks. */
  readonly socketCount: number;
  /** Queries and mutations executing over all sockets, those their clients stopped included. */
  readonly executingCount: number;
  close(): Promise<void>;
}

export interface WebSocketTransportDeps {
  server: Server;
  yoga: TidepassYoga;
  auth: AuthService;
  bus: RevocationBus;
  clock: Clock;
  logger: Logger;
  /** CORS_ORIGINS: the other origins whose pages may open a socket. */
  corsOrigins: readonly string[];
  /** TRUST_PROXY: the client's address is the last X-Forwarded-For hop. */
  trustProxy: TrustProxy;
  /** The instance's shared deadlines: each socket's token expiry. */
  expiries: Deadlines<Expiring>;
}

/**
 * graphql-ws on the HTTP server's own port and path. The glue between `ws` and graphql-ws's
 * makeServer is ours rather than graphql-ws/use/ws, which keeps the upgrade request and two timers
 * per socket for the socket's life.
 */
export function attachWebSocketTransport(deps: WebSocketTransportDeps): WebSocketTransport {
  const wss = createSocketServer(deps);
  const registry = new SocketRegistry(deps.expiries);
  const initWaits = new InitWaits();
  const executions = new Executions();
  const trustedProxy = proxyCheck(deps.trustProxy);
  const keepAlive = new KeepAlive(wss.clients);
  const unsubscribe = registry.closeOnRevocation(deps.bus);
  const protocol = createProtocolServer({ ...deps, registry, initWaits, executions });
  const fail = (socket: WebSocket, error: unknown) => {
    deps.logger.error('websocket', { error });
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  };
  // One object and one function for all connections rather than closures of each.
  const owner: ConnectionOwner = {
    expired: (connection) => registry.close(connection, 'TOKEN_EXPIRED'),
    failed: (connection, error) => fail(connection.socket, error),
  };
  function onSocketError(this: WebSocket, error: Error) {
    fail(this, error);
  }

  wss.on('connection', (socket, request) => {
    const connection = new Connection(socket, clientInfo(undefined, request, trustedProxy), owner);
    initWaits.start(connection);
    const closed = protocol.opened(connection, connection);
    socket.on('error', onSocketError);
    keepAlive.watch(socket);
    socket.on('message', (data) => connection.receive(data));
    socket.on('close', (code, reason) => {
      keepAlive.forget(socket);
      initWaits.end(connection);
      closed(code, String(reason)).catch((error: unknown) => deps.logger.error('websocket', { error }));
    });
  });

  return {
    get socketCount() {
      return registry.size;
    },
    get executingCount() {
      return executions.count;
    },
    async close() {
      unsubscribe();
      keepAlive.stop();
      initWaits.clear();
      for (const socket of wss.clients) socket.close(CLOSE_GOING_AWAY, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const socket of wss.clients) socket.terminate();
    },
  };
}

function createSocketServer(deps: WebSocketTransportDeps): WebSocketServer {
  const wss = new WebSocketServer({
    server: deps.server,
    path: '/graphql',
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => handleProtocols(protocols),
    verifyClient: verifyUpgradeOrigin(deps.corsOrigins),
  });
  // The HTTP server's own errors come through here too (ws re-emits them): unhandled, they would
  // throw. Logged, and every socket closed, as the server can no longer be trusted.
  wss.on('error', (error) => {
    deps.logger.error('websocket server', { error });
    for (const socket of wss.clients) socket.close(CloseCode.InternalServerError, 'Internal server error');
  });
  return wss;
}
