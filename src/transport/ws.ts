import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type OperationResult, type Context } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthService } from '../auth/service.js';
import type { Clock } from '../clock.js';
import { Deadlines, type Expiring } from '../deadlines.js';
import type { RevocationBus } from '../events/revocation-bus.js';
import { originMayCall } from '../graphql/http-security.js';
import { bearerFromConnectionParams, clientInfo, type TidepassYoga } from '../graphql/yoga.js';
import type { Logger } from '../logger.js';
import { Connection, type ConnectionOwner } from './ws-connection.js';

/** graphql-ws's Forbidden. Not 4401: its client treats 4401 as fatal and never retries, but retries 4403. */
export const CLOSE_FORBIDDEN = 4403;
/** Time for the "current" revocation event to go out before its socket is closed. */
const REVOKED_CLOSE_DELAY_MS = 30;
/**
 * Operations one socket may have running at once (subscriptions, and queries still executing).
 * Each open subscription holds memory and a feed listener for as long as the socket lives, so
 * without a bound one authenticated client could hold an unbounded number on a single socket.
 */
export const MAX_OPERATIONS_PER_SOCKET = 16;
/** graphql-ws's defaults: connection_init within 3 s; a ping every 12 s, answered before the next. */
const CONNECTION_INIT_WAIT_MS = 3_000;
const KEEP_ALIVE_MS = 12_000;

export interface WebSocketTransport {
  /** Open, authenticated sockets: for leak checks. */
  readonly socketCount: number;
  /** Queries and mutations executing over all sockets, those their clients stopped included. */
  readonly executingCount: number;
  close(): Promise<void>;
}


/**
 * graphql-ws (its protocol server, makeServer) on the HTTP server's own port and path. Operations
 * go through yoga.getEnveloped, so they get the same plugins and the same context factory as HTTP;
 * the connection is authenticated once at connection_init and closed the moment its session ends or
 * its token expires. The glue between `ws` and graphql-ws is ours rather than graphql-ws/use/ws,
 * which keeps the upgrade request and two timers per socket for the socket's life.
 */
export function attachWebSocketTransport(deps: {
  server: Server;
  yoga: TidepassYoga;
  auth: AuthService;
  bus: RevocationBus;
  clock: Clock;
  logger: Logger;
  /** CORS_ORIGINS: the other origins whose pages may open a socket. */
  corsOrigins: readonly string[];
  /** TRUST_PROXY: the client's address is the last X-Forwarded-For hop. */
  trustProxy: boolean;
  /** The instance's shared deadlines: each socket's token expiry. */
  expiries: Deadlines<Expiring>;
}): WebSocketTransport {
  const { expiries } = deps;
  const wss = new WebSocketServer({
    server: deps.server,
    path: '/graphql',
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => handleProtocols(protocols),
    // Nothing on this path reads cookies (connection_init's token is the only credential), so a
    // hijacked socket could do nothing a page's own could not. Still, a browser page on an origin
    // that may not call the API over HTTP (CORS) may not open a socket to it either: refused with
    // 403 before the upgrade. No Origin at all is an app, not a browser (browsers always send one).
    verifyClient: ({ origin, req }: { origin: string | undefined; req: IncomingMessage }, done: VerifyDone) => {
      if (origin === undefined || upgradeOriginAllowed(origin, req.headers.host, deps.corsOrigins)) return done(true);
      done(false, 403, 'Origin not allowed');
    },
  });
  // The HTTP server's own errors come through here too (ws re-emits them): unhandled, they would
  // throw. As graphql-ws/use/ws did: logged, and every socket closed as the server cannot be trusted.
  wss.on('error', (error) => {
    deps.logger.error('websocket server', { error });
    for (const socket of wss.clients) socket.close(CloseCode.InternalServerError, 'Internal server error');
  });
  /** Authenticated connections by session: one, or a set when a session has several sockets. */
  const bySession = new Map<string, Connection | Set<Connection>>();
  let authenticatedCount = 0;
  let executingCount = 0;

  const release = (connection: Connection) => {
    const { sessionId } = connection;
    if (sessionId === undefined) return;
    connection.sessionId = undefined;
    authenticatedCount -= 1;
    expiries.cancel(connection, connection.expiry);
    const connections = bySession.get(sessionId);
    if (connections === connection) {
      bySession.delete(sessionId);
    } else if (connections instanceof Set && connections.delete(connection)) {
      const [only, more] = connections;
      if (!more) bySession.set(sessionId, only!);
    }
  };

  const register = (connection: Connection, sessionId: string, remainingMs: number) => {
    connection.sessionId = sessionId;
    authenticatedCount += 1;
    connection.expiry = expiries.schedule(connection, remainingMs);
    const connections = bySession.get(sessionId);
    if (!connections) bySession.set(sessionId, connection);
    else if (connections instanceof Set) connections.add(connection);
    else bySession.set(sessionId, new Set([connections, connection]));
  };

  const closeRevoked = (connection: Connection) => {
    release(connection);
    connection.socket.close(CLOSE_FORBIDDEN, 'Session revoked');
  };

  // One timer for every socket's connection_init wait.
  const initWaits = new Deadlines<Connection>((connection) => {
    connection.initWait = undefined;
    connection.socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
  });
  const initReceived = (connection: Connection) => {
    if (connection.initWait === undefined) return;
    initWaits.cancel(connection, connection.initWait);
    connection.initWait = undefined;
  };

  const unsubscribe = deps.bus.subscribe((event) => {
    const connections = bySession.get(event.sessionId);
    if (!connections) return;
    // The subscription sends the event first (see onNext); this catches sockets without one.
    for (const connection of connections instanceof Set ? connections : [connections]) {
      setTimeout(() => connection.sessionId !== undefined && closeRevoked(connection), REVOKED_CLOSE_DELAY_MS);
    }
  });

  const server = makeServer<Record<string, unknown>, Connection>({
    // Ours (initWaits): graphql-ws's would keep its spent timer for the socket's life.
    connectionInitWaitTimeout: 0,
    execute: (args) => {
      const { execute, connection, id } = args.rootValue as OperationRoot;
      connection.startedExecuting(id);
      executingCount += 1;
      const finished = () => {
        connection.finishedExecuting(id);
        executingCount -= 1;
      };
      let result;
      try {
        result = execute(args);
      } catch (error) {
        finished();
        throw error;
      }
      if (!isPromiseLike(result)) {
        finished();
        return result;
      }
      return Promise.resolve(result).finally(finished);
    },
    subscribe: (args) => (args.rootValue as OperationRoot).subscribe(args),
    onConnect: async (ctx) => {
      const connection = ctx.extra;
      initReceived(connection);
      const authentication = await deps.auth.authenticate(bearerFromConnectionParams(ctx.connectionParams));
      if (authentication.kind !== 'signed-in') return false;
      const { socket } = connection;
      // The client hung up while we verified: registering now would leak the socket's state.
      if (socket.readyState !== socket.OPEN) return false;
      const { viewer } = authentication;
      const remainingMs = viewer.tokenExpiresAt.getTime() - deps.clock().getTime();
      if (remainingMs <= 0) {
        socket.close(CLOSE_FORBIDDEN, 'Token expired');
        return false;
      }
      register(connection, viewer.sessionId, remainingMs);
      // A revocation that arrived while authenticate awaited found no socket to close: look again.
      if (deps.auth.hasEndedLocally(viewer.sessionId)) {
        closeRevoked(connection);
        return false;
      }
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      // A socket closed 4403 (session ended, token expired) still hands us the client's messages while
      // `ws` waits up to 30 s for its close reply: nothing more runs on it.
      if (ctx.extra.sessionId === undefined) {
        return [new GraphQLError('This connection has been closed.', { extensions: { code: 'UNAUTHENTICATED' } })];
      }
      // graphql-ws reserves the operation's id in ctx.subscriptions before this hook and deletes
      // it when the operation completes, errs or is stopped by the client: the count includes this
      // one. A query or mutation the client stopped still counts until it has finished executing.
      if (ctx.extra.operationCount(ctx.subscriptions) > MAX_OPERATIONS_PER_SOCKET) {
        return [
          new GraphQLError(
            `At most ${MAX_OPERATIONS_PER_SOCKET} operations may run at once on one connection; complete one first.`,
            { extensions: { code: 'RATE_LIMITED' } },
          ),
        ];
      }
      const enveloped = deps.yoga.getEnveloped({
        client: ctx.extra.client,
        connectionParams: ctx.connectionParams ?? {},
        params: payload,
      });
      let document;
      try {
        document = enveloped.parse(payload.query);
      } catch (error) {
        return [error instanceof GraphQLError ? error : new GraphQLError('Syntax error')];
      }
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) return errors;
      const args: ExecutionArgs = {
        schema: enveloped.schema,
        operationName: payload.operationName ?? null,
        document,
        variableValues: payload.variables ?? null,
        contextValue: await enveloped.contextFactory(),
        rootValue: {
          execute: enveloped.execute,
          subscribe: enveloped.subscribe,
          connection: ctx.extra,
          id,
        } satisfies OperationRoot,
      };
      return args;
    },
    onNext: (ctx, _id, _payload, _args, result) => {
      const event = (result.data as { sessionRevoked?: { current?: boolean } } | null | undefined)?.sessionRevoked;
      // Close right after this message is queued: ws sends the close frame after it.
      if (event?.current) setImmediate(() => closeRevoked(ctx.extra));
    },
    onClose: (ctx: Context<Record<string, unknown>, Connection>) => release(ctx.extra),
  });

  /** Sockets pinged and not yet answered: still there at the next round, they are dead. */
  const awaitingPong = new Set<WebSocket>();
  // Shared by every socket (`this` is the socket), rather than closures of each.
  function onPong(this: WebSocket) {
    awaitingPong.delete(this);
  }
  const owner: ConnectionOwner = {
    expired(connection) {
      release(connection);
      connection.socket.close(CLOSE_FORBIDDEN, 'Token expired');
    },
    failed(connection, error) {
      deps.logger.error('websocket', { error });
      connection.socket.close(CloseCode.InternalServerError, 'Internal server error');
    },
  };
  function onSocketError(this: WebSocket, error: Error) {
    deps.logger.error('websocket', { error });
    this.close(CloseCode.InternalServerError, 'Internal server error');
  }

  wss.on('connection', (socket, request) => {
    const connection = new Connection(socket, clientInfo(undefined, request, deps.trustProxy), owner);
    connection.initWait = initWaits.schedule(connection, CONNECTION_INIT_WAIT_MS);
    const closed = server.opened(connection, connection);
    socket.on('error', onSocketError);
    socket.on('pong', onPong);
    socket.on('message', (data) => connection.receive(data));
    socket.on('close', (code, reason) => {
      awaitingPong.delete(socket);
      initReceived(connection);
      closed(code, String(reason)).catch((error: unknown) => deps.logger.error('websocket', { error }));
    });
  });

  const keepAlive = setInterval(() => {
    for (const socket of wss.clients) {
      if (awaitingPong.has(socket)) {
        awaitingPong.delete(socket);
        socket.terminate();
      } else if (socket.readyState === socket.OPEN) {
        awaitingPong.add(socket);
        socket.ping();
      }
    }
  }, KEEP_ALIVE_MS);
  keepAlive.unref();

  return {
    get socketCount() {
      return authenticatedCount;
    },
    get executingCount() {
      return executingCount;
    },
    async close() {
      unsubscribe();
      clearInterval(keepAlive);
      initWaits.clear();
      for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const socket of wss.clients) socket.terminate();
    },
  };
}


type VerifyDone = (verified: boolean, code?: number, message?: string) => void;

function upgradeOriginAllowed(origin: string, host: string | undefined, corsOrigins: readonly string[]): boolean {
  if (!host) return false;
  try {
    return originMayCall(origin, new URL(`http://${host}`).host, corsOrigins);
  } catch {
    return false;
  }
}

/**
 * envelop's execute and subscribe, carried to graphql-ws through rootValue as in yoga's example, with
 * the operation's connection and id for the count of executions.
 */
interface OperationRoot {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
  connection: Connection;
  id: string;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
