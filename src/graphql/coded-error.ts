import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { errorMessages, type ErrorCode } from '../errors.js';

/**
 * A GraphQLError with a code from the one table: how every refusal outside the domain (request
 * format, CSRF, limits, the WebSocket transport) reaches the client. The table's message unless a
 * more precise one is given; `at` keeps the location of the error it replaces.
 */
export function codedError(
  code: ErrorCode,
  options: {
    message?: string;
    /** The HTTP status of the response (yoga's `extensions.http`, not shown to the client). */
    status?: number;
    at?: GraphQLError;
    extensions?: Readonly<Record<string, unknown>>;
  } = {},
): GraphQLError {
  const { at, status } = options;
  // The code first and never overwritten by the extensions passed along.
  const extensions: Record<string, unknown> = { code, ...options.extensions };
  extensions['code'] = code;
  if (status !== undefined) extensions['http'] = { status };
  return new GraphQLError(options.message ?? errorMessages[code], {
    nodes: at?.nodes,
    source: at?.source,
    positions: at?.positions,
    path: at?.path,
    extensions,
  });
}

/**
 * graphql-js reports a missing or mistyped variable without any code; every failure of ours has one.
 * Such a result has no `data` at all (nothing executed), unlike a resolver's error (`data: null`).
 */
export function useVariableErrorCode(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Symbol.asyncIterator in result || result.data !== undefined || !result.errors) return;
      setResult({
        ...result,
        errors: result.errors.map((error) =>
          error.extensions?.code ? error : codedError('BAD_USER_INPUT', { message: error.message, at: error, extensions: error.extensions }),
        ),
      });
    },
  };
}
