import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthService } from '../auth/service.js';
import { runAfter, type Clock } from '../clock.js';
import type { RevocationBus } from '../events/revocation-bus.js';
import { originMayCall } from '../graphql/http-security.js';
import { bearerFromConnectionParams, type TidepassYoga } from '../graphql/yoga.js';
import type { Logger } from '../logger.js';

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

export interface WebSocketTransport {
  /** Open, authenticated sockets: for leak checks. */
  readonly socketCount: number;
  close(): Promise<void>;
}

interface SocketState {
  sessionId: string;
  cancelExpiry: () => void;
}

/**
 * graphql-ws on the HTTP server's own port and path. Operations go through yoga.getEnveloped, so
 * they get the same plugins and the same context factory as HTTP; the connection is authenticated
 * once at connection_init and closed the moment its session ends or its token expires.
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
}): WebSocketTransport {
  const wss = new WebSocketServer({
    server: deps.server,
    path: '/graphql',
    maxPayload: 64 * 1024,
    // Nothing on this path reads cookies (connection_init's token is the only credential), so a
    // hijacked socket could do nothing a page's own could not. Still, a browser page on an origin
    // that may not call the API over HTTP (CORS) may not open a socket to it either: refused with
    // 403 before the upgrade. No Origin at all is an app, not a browser (browsers always send one).
    verifyClient: ({ origin, req }: { origin: string | undefined; req: IncomingMessage }, done: VerifyDone) => {
      if (origin === undefined || upgradeOriginAllowed(origin, req.headers.host, deps.corsOrigins)) return done(true);
      done(false, 403, 'Origin not allowed');
    },
  });
  const states = new Map<WebSocket, SocketState>();
  const bySession = new Map<string, Set<WebSocket>>();

  const release = (socket: WebSocket) => {
    const state = states.get(socket);
    if (!state) return;
    state.cancelExpiry();
    states.delete(socket);
    const sockets = bySession.get(state.sessionId);
    sockets?.delete(socket);
    if (sockets?.size === 0) bySession.delete(state.sessionId);
  };

  const closeRevoked = (socket: WebSocket) => {
    release(socket);
    socket.close(CLOSE_FORBIDDEN, 'Session revoked');
  };

  const unsubscribe = deps.bus.subscribe((event) => {
    const sockets = bySession.get(event.sessionId);
    if (!sockets) return;
    // The subscription sends the event first (see onNext); this catches sockets without one.
    for (const socket of sockets) setTimeout(() => states.has(socket) && closeRevoked(socket), REVOKED_CLOSE_DELAY_MS);
  });

  const disposable = useServer<Record<string, unknown>>(
    {
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args),
      onConnect: async (ctx) => {
        const authentication = await deps.auth.authenticate(bearerFromConnectionParams(ctx.connectionParams));
        if (authentication.kind !== 'signed-in') return false;
        const { socket } = ctx.extra;
        // The client hung up while we verified: registering now would leak the socket's state.
        if (socket.readyState !== socket.OPEN) return false;
        const { viewer } = authentication;
        const remainingMs = viewer.tokenExpiresAt.getTime() - deps.clock().getTime();
        if (remainingMs <= 0) {
          socket.close(CLOSE_FORBIDDEN, 'Token expired');
          return false;
        }
        const cancelExpiry = runAfter(remainingMs, () => {
          release(socket);
          socket.close(CLOSE_FORBIDDEN, 'Token expired');
        });
        states.set(socket, { sessionId: viewer.sessionId, cancelExpiry });
        const sockets = bySession.get(viewer.sessionId) ?? new Set();
        sockets.add(socket);
        bySession.set(viewer.sessionId, sockets);
        socket.once('close', () => release(socket));
        // A revocation that arrived while authenticate awaited found no socket to close: look again.
        if (deps.auth.hasEndedLocally(viewer.sessionId)) {
          closeRevoked(socket);
          return false;
        }
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws reserves the operation's id in ctx.subscriptions before this hook and deletes
        // it when the operation completes, errs or is stopped by the client: the count includes this
        // one, and a finished operation frees its slot without bookkeeping of ours that could leak.
        if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_SOCKET) {
          return [
            new GraphQLError(
              `At most ${MAX_OPERATIONS_PER_SOCKET} operations may run at once on one connection; complete one first.`,
              { extensions: { code: 'RATE_LIMITED' } },
            ),
          ];
        }
        const enveloped = deps.yoga.getEnveloped({
          req: ctx.extra.request,
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
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies Enveloped,
        };
        return args;
      },
      onNext: (ctx, _id, _payload, _args, result) => {
        const event = (result.data as { sessionRevoked?: { current?: boolean } } | null | undefined)?.sessionRevoked;
        // Close right after this message is queued: ws sends the close frame after it.
        if (event?.current) setImmediate(() => closeRevoked(ctx.extra.socket));
      },
    },
    wss,
  );

  return {
    get socketCount() {
      return states.size;
    },
    async close() {
      unsubscribe();
      for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
      await disposable.dispose();
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

/** envelop's execute and subscribe, carried to graphql-ws through rootValue as in yoga's example. */
interface Enveloped {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
