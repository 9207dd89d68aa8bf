import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import ipaddr from 'ipaddr.js';

/**
 * Who gets a development convenience (an unexpected error's details, field suggestions, GraphiQL and
 * introspection): everyone, only clients on this machine, or nobody.
 */
export type Audience = 'everyone' | 'loopback' | 'nobody';

/** Whether the request at hand may have what an audience is given; over WebSocket (no request) only `everyone`. */
export type AudienceCheck = (request: Request | undefined, req: IncomingMessage | undefined) => boolean;

export function audienceCheck(audience: Audience): AudienceCheck {
  if (audience === 'everyone') return () => true;
  if (audience === 'nobody') return () => false;
  return (request, req) => request !== undefined && isLocal(request, req);
}

/**
 * A request from this machine: its socket's peer is a loopback address and no proxy forwarded it (a
 * proxy on this machine is a loopback peer for everyone behind it). No socket (in process) is not local.
 */
function isLocal(request: Request, req: IncomingMessage | undefined): boolean {
  const peer = req?.socket.remoteAddress;
  if (peer === undefined || !ipaddr.isValid(peer)) return false;
  if (request.headers.has('x-forwarded-for') || request.headers.has('forwarded')) return false;
  return ipaddr.process(peer).range() === 'loopback';
}

/**
 * An unexpected error's details (yoga's `extensions.originalError`), kept aside when it is masked and
 * put back only into answers to requests the audience includes: a path that forgets them fails closed.
 */
export class ErrorDetails {
  readonly #detailed = new WeakMap<GraphQLError, GraphQLError>();

  /** Records the detailed form of a masked error; returns the masked one. */
  keep(masked: Error, detailed: Error): Error {
    if (!(masked instanceof GraphQLError) || !(detailed instanceof GraphQLError)) return masked;
    if (detailed.extensions['originalError'] !== undefined) this.#detailed.set(masked, detailed);
    return masked;
  }

  plugin(allowed: AudienceCheck): Plugin<RequestContext, { req?: IncomingMessage }> {
    const kept = this.#detailed;
    const detailed = (error: GraphQLError) => kept.get(error) ?? error;
    return {
      onResultProcess({ request, result, setResult, serverContext }) {
        if (Symbol.asyncIterator in result || !allowed(request, serverContext.req)) return;
        const results = Array.isArray(result) ? result : [result];
        if (!results.some((one) => one.errors?.some((error) => kept.has(error)))) return;
        const withDetails = results.map((one) => (one.errors ? { ...one, errors: one.errors.map(detailed) } : one));
        setResult(Array.isArray(result) ? withDetails : withDetails[0]!);
      },
    };
  }
}

type RequestContext = { request?: Request; req?: IncomingMessage };

/** "Did you mean …" removed from validation errors, unless the request may have it. */
export function useFieldSuggestionsFor(allowed: AudienceCheck): Plugin<RequestContext> {
  return {
    onValidate({ context }) {
      if (allowed(context.request, context.req)) return;
      return ({ valid, result, setResult }) => {
        // New errors, not the same ones edited: yoga caches validation results for every request alike.
        if (!valid) setResult(result.map(withoutSuggestion));
      };
    },
  };
}

const SUGGESTION = /\s*Did you mean .+\?/g;

function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError) || !SUGGESTION.test(error.message)) return error;
  SUGGESTION.lastIndex = 0;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}
