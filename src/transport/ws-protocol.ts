import { makeServer, type Context, type Server } from 'graphql-ws';
import type { AuthService } from '../auth/service.js';
import type { Clock } from '../clock.js';
import { bearerFromConnectionParams } from '../graphql/caller.js';
import type { TidepassYoga } from '../graphql/yoga.js';
import type { InitWaits } from './init-wait.js';
import { closeForbidden, type SocketRegistry } from './socket-registry.js';
import type { Connection } from './ws-connection.js';
import { prepareOperation, type Executions } from './ws-operations.js';

type SocketContext = Context<Record<string, unknown>, Connection>;

interface ProtocolDeps {
  yoga: TidepassYoga;
  auth: Pick<AuthService, 'authenticate' | 'hasEndedLocally'>;
  clock: Clock;
  registry: SocketRegistry;
  initWaits: InitWaits;
  executions: Executions;
}

/**
 * graphql-ws's protocol server: the connection is authenticated once, at connection_init, and its
 * operations run through yoga's envelop with the same plugins and context factory as HTTP.
 */
export function createProtocolServer(deps: ProtocolDeps): Server<Connection> {
  const { registry, executions } = deps;
  return makeServer<Record<string, unknown>, Connection>({
    // Ours (InitWaits): graphql-ws's would keep its spent timer for the socket's life.
    connectionInitWaitTimeout: 0,
    execute: executions.execute,
    subscribe: executions.subscribe,
    onConnect: (ctx) => authenticateConnection(deps, ctx),
    onSubscribe: (ctx, id, payload) => prepareOperation(deps.yoga, ctx, id, payload),
    onNext: (ctx, _id, _payload, _args, result) => {
      const event = (result.data as { sessionRevoked?: { current?: boolean } } | null | undefined)?.sessionRevoked;
      // Close right after this message is queued: ws sends the close frame after it.
      if (event?.current) setImmediate(() => registry.close(ctx.extra, 'SESSION_REVOKED'));
    },
    onClose: (ctx: SocketContext) => registry.release(ctx.extra),
  });
}

/** connection_init: false refuses the socket (graphql-ws closes it 4403 Forbidden). */
async function authenticateConnection(deps: ProtocolDeps, ctx: SocketContext): Promise<boolean> {
  const connection = ctx.extra;
  deps.initWaits.end(connection);
  const authentication = await deps.auth.authenticate(bearerFromConnectionParams(ctx.connectionParams));
  if (authentication.kind !== 'signed-in') return false;
  const { socket } = connection;
  // The client hung up while we verified: registering now would leak the socket's state.
  if (socket.readyState !== socket.OPEN) return false;
  const { viewer } = authentication;
  const remainingMs = viewer.tokenExpiresAt.getTime() - deps.clock().getTime();
  if (remainingMs <= 0) {
    closeForbidden(connection, 'TOKEN_EXPIRED');
    return false;
  }
  deps.registry.register(connection, viewer.sessionId, remainingMs);
  // A revocation that arrived while authenticate awaited found no socket to close: look again.
  if (deps.auth.hasEndedLocally(viewer.sessionId)) {
    deps.registry.close(connection, 'SESSION_REVOKED');
    return false;
  }
  return true;
}
