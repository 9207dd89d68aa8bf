import { GraphQLError, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import type { Context, OperationResult, SubscribePayload } from 'graphql-ws';
import { codedError } from '../graphql/coded-error.js';
import type { TidepassYoga } from '../graphql/yoga.js';
import type { Connection } from './ws-connection.js';

/**
 * Operations one socket may have running at once (subscriptions, and queries still executing).
 * Each open subscription holds memory and a feed listener for as long as the socket lives, so
 * without a bound one authenticated client could hold an unbounded number on a single socket.
 */
export const MAX_OPERATIONS_PER_SOCKET = 16;

type SocketContext = Context<Record<string, unknown>, Connection>;

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

/** Why an operation may not start on this socket, or undefined when it may. */
function refusal(ctx: SocketContext): GraphQLError | undefined {
  // A socket closed 4403 (session ended, token expired) still hands us the client's messages while
  // `ws` waits up to 30 s for its close reply: nothing more runs on it.
  if (ctx.extra.sessionId === undefined) {
    return codedError('UNAUTHENTICATED', { message: 'This connection has been closed.' });
  }
  // graphql-ws reserves the operation's id in ctx.subscriptions before onSubscribe and deletes it
  // when the operation completes, errs or is stopped by the client: the count includes this one.
  if (ctx.extra.operationCount(ctx.subscriptions) > MAX_OPERATIONS_PER_SOCKET) {
    return codedError('RATE_LIMITED', {
      message: `At most ${MAX_OPERATIONS_PER_SOCKET} operations may run at once on one connection; complete one first.`,
    });
  }
  return undefined;
}

/** graphql-ws's onSubscribe: the operation through yoga's envelop, as HTTP requests go. */
export async function prepareOperation(
  yoga: TidepassYoga,
  ctx: SocketContext,
  id: string,
  payload: SubscribePayload,
): Promise<ExecutionArgs | readonly GraphQLError[]> {
  const refused = refusal(ctx);
  if (refused) return [refused];
  const enveloped = yoga.getEnveloped({
    client: ctx.extra.client,
    connectionParams: ctx.connectionParams ?? {},
    params: payload,
  });
  let document: DocumentNode;
  try {
    document = enveloped.parse(payload.query) as DocumentNode;
  } catch (error) {
    return [error instanceof GraphQLError ? error : new GraphQLError('Syntax error')];
  }
  const errors = enveloped.validate(enveloped.schema, document) as readonly GraphQLError[];
  if (errors.length > 0) return errors;
  return {
    schema: enveloped.schema as GraphQLSchema,
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
}

/**
 * graphql-ws's execute and subscribe. A query or mutation counts against its socket's bound until it
 * has finished executing, even after its client stopped it (graphql-ws frees the slot at once).
 */
export class Executions {
  /** Executing over all sockets. */
  count = 0;

  readonly execute = (args: ExecutionArgs): OperationResult => {
    const { execute, connection, id } = args.rootValue as OperationRoot;
    connection.startedExecuting(id);
    this.count += 1;
    const finished = () => {
      connection.finishedExecuting(id);
      this.count -= 1;
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
  };

  readonly subscribe = (args: ExecutionArgs): OperationResult => (args.rootValue as OperationRoot).subscribe(args);
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
