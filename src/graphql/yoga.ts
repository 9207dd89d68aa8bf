import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerOptions, type YogaServerInstance } from 'graphql-yoga';
import type { JSONWebKeySet } from 'jose';
import type { AuthService } from '../auth/service.js';
import type { ClientInfo } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RevocationFeed } from '../events/revocation-feed.js';
import { createContext, type GraphQLContext } from './context.js';
import { CSRF_HEADER, useCors, useCsrfPrevention, useNoIntrospection, useSecurityHeaders } from './http-security.js';
import { useDocumentLimits, useStrictRequestFormat } from './limits.js';
import type { MailboxEntry } from '../mail/mail-delivery.js';
import { useDevMailbox } from './dev-mailbox.js';
import { renderGraphiqlPage, useGraphiqlAssets, usePage } from './page.js';
import { createRefreshCookies } from './refresh-cookie.js';
import { buildSchema } from './schema/index.js';
import { bearerFromConnectionParams, clientInfo } from './caller.js';
import { useVariableErrorCode } from './coded-error.js';
import { useRequestLog } from './request-log.js';
import { useScopeCacheReleaseOnSubscribe } from './scope-cache.js';
import { proxyCheck, type TrustProxy } from './trusted-proxies.js';
import { audienceCheck, ErrorDetails, useFieldSuggestionsFor, type Audience } from './conveniences.js';
import { useJwks, useReadiness } from './service-endpoints.js';

/**
 * What node:http hands yoga (absent under yoga.fetch in tests); the WebSocket transport hands
 * connectionParams and the client instead (read from the upgrade request, which it does not keep).
 */
export interface ServerContext {
  req?: IncomingMessage;
  /** connection_init's payload, for operations over graphql-ws. */
  connectionParams?: Readonly<Record<string, unknown>>;
  client?: ClientInfo;
}

export type TidepassYoga = YogaServerInstance<ServerContext, GraphQLContext>;

export interface YogaDeps {
  readonly auth: AuthService;
  readonly revocationFeed: RevocationFeed;
  readonly jwks: () => JSONWebKeySet;
  /** The JWKS's Cache-Control max-age (JWKS_MAX_AGE). */
  readonly jwksMaxAge: number;
  readonly logger: Logger;
  readonly ping: () => Promise<void>;
  readonly trustProxy: TrustProxy;
  /** Who gets an unexpected error's details and field suggestions. */
  readonly errorDetails: Audience;
  /** Who gets GraphiQL at /graphql, and introspection. */
  readonly graphiql: Audience;
  readonly maxRequestBodyBytes: number;
  readonly clock: Clock;
  /** Exact origins allowed cross-origin with credentials (CORS_ORIGINS). */
  readonly corsOrigins: readonly string[];
  /** Where the built page is (dist/web/). */
  readonly pageDirectory: URL;
  /** Lists the outbox at /dev/mailbox; null when mail goes out by SMTP (or is off). */
  readonly devMailbox?: (() => Promise<MailboxEntry[]>) | null;
  /** Plugins of the composition root's own (the operation metrics). */
  readonly plugins?: readonly Plugin[];
}

const GRAPHQL_ENDPOINT = '/graphql';

export function createYogaServer(deps: YogaDeps): TidepassYoga {
  const trustedProxy = proxyCheck(deps.trustProxy);
  const detailsAllowed = audienceCheck(deps.errorDetails);
  const graphiqlAllowed = audienceCheck(deps.graphiql);
  // The mailbox holds live reset links: a development convenience, for the audience of error details.
  const mailboxAllowed = detailsAllowed;
  const errorDetails = new ErrorDetails();
  const refreshCookies = createRefreshCookies({ clock: deps.clock, corsOrigins: deps.corsOrigins });
  return createYoga<ServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: (request, serverContext) => graphiqlAllowed(request, serverContext?.req) && GRAPHIQL_OPTIONS,
    renderGraphiQL: renderGraphiqlPage,
    // yoga's default CORS reflects any Origin with credentials; useCors allows CORS_ORIGINS only.
    cors: false,
    // Masked without details; ErrorDetails puts them back for the requests errorDetails includes.
    maskedErrors: { maskError: maskWith(errorDetails), isDev: false },
    // The body limit (413 REQUEST_ENTITY_TOO_LARGE) is useStrictRequestFormat's: cheaper than yoga's.
    maxRequestBodySize: false,
    // One operation per request: a batch would multiply what one request can try.
    batching: false,
    multipart: false,
    logging: yogaLogging(deps.logger),
    // One context factory for HTTP, SSE and graphql-ws (which has connectionParams and no Request).
    context: ({ request, req, connectionParams, client }) =>
      createContext({
        auth: deps.auth,
        revocationFeed: deps.revocationFeed,
        authorization: connectionParams
          ? bearerFromConnectionParams(connectionParams)
          : request.headers.get('authorization'),
        client: client ?? clientInfo(request?.headers, req, trustedProxy),
        refreshCookie: refreshCookies.jarFor(connectionParams ? undefined : request),
      }),
    plugins: [
      useCors(deps.corsOrigins),
      useSecurityHeaders(),
      usePage({ directory: deps.pageDirectory, logger: deps.logger }),
      ...(deps.devMailbox ? [useDevMailbox(deps.devMailbox, mailboxAllowed)] : []),
      ...(deps.graphiql === 'nobody' ? [] : [useGraphiqlAssets({ graphqlEndpoint: GRAPHQL_ENDPOINT, allowed: graphiqlAllowed })]),
      useNoIntrospection(graphiqlAllowed),
      refreshCookies.plugin,
      useReadiness(deps.ping),
      useJwks(deps.jwks, deps.jwksMaxAge),
      useStrictRequestFormat({ maxBodyBytes: deps.maxRequestBodyBytes }),
      useCsrfPrevention(),
      ...useDocumentLimits(),
      useFieldSuggestionsFor(detailsAllowed),
      errorDetails.plugin(detailsAllowed),
      useRequestLog(deps.logger),
      useVariableErrorCode(),
      useScopeCacheReleaseOnSubscribe(),
      ...(deps.plugins ?? []),
    ],
  });
}

const GRAPHIQL_OPTIONS = {
  title: 'tidepass GraphiQL',
  shouldPersistHeaders: false,
  // GraphiQL subscribes over GET (SSE), which CSRF prevention refuses without this header.
  additionalHeaders: { [CSRF_HEADER]: '1' },
};

function yogaLogging(logger: Logger): YogaServerOptions<ServerContext, GraphQLContext>['logging'] {
  return {
    // yoga's debug and info lines can carry variables (passwords, tokens): never let them through.
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => logger.warn('yoga', { detail: args.map(String) }),
    error: (...args: unknown[]) => {
      const error = originalError(args.find((arg) => arg instanceof Error));
      // Expected failures (AuthError) are answers, not faults.
      if (error instanceof AuthError) return;
      // The original error, not its GraphQL wrapper: the logger knows how to keep request data out of it.
      logger.error('yoga', { error });
    },
  };
}

/** AuthError becomes a GraphQL error with its code; anything else is masked as INTERNAL_SERVER_ERROR. */
function maskWith(details: ErrorDetails) {
  return (error: unknown, message: string): Error => {
    const original = originalError(error);
    if (original instanceof AuthError) {
      const located = isGraphQLError(error) ? { nodes: error.nodes, path: error.path } : {};
      return new GraphQLError(original.message, {
        ...located,
        extensions: { code: original.code, ...original.details },
      });
    }
    const cleaned = withoutQueryValues(error);
    return details.keep(maskError(cleaned, message, false), maskError(cleaned, message, true));
  };
}

/**
 * drizzle's DrizzleQueryError puts the failed query's parameters (password hashes, token hashes,
 * emails) in its message, which development mode would hand to the client: keep only the driver's
 * own message.
 */
function withoutQueryValues(error: unknown): unknown {
  const original = originalError(error);
  if (!(original instanceof Error) || !('params' in original) || !original.message.startsWith('Failed query')) {
    return error;
  }
  const cause = original.cause instanceof Error ? original.cause.message : 'the database query failed';
  const redacted = new Error(`A database query failed: ${cause}`);
  redacted.stack = `Error: ${redacted.message}`;
  return isGraphQLError(error)
    ? new GraphQLError(error.message, { nodes: error.nodes, path: error.path, originalError: redacted })
    : redacted;
}

/**
 * By name rather than instanceof: graphql is a dual (ESM and CommonJS) package, and an error made by
 * one copy is not an instance of the other's class.
 */
function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

function originalError(error: unknown): unknown {
  return isGraphQLError(error) ? (error.originalError ?? error) : error;
}
