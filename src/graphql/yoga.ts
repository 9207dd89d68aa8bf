import type { IncomingMessage } from 'node:http';
import { RequestCache } from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
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
import { renderGraphiqlPage, useGraphiqlAssets, usePage } from './page.js';
import { createRefreshCookies } from './refresh-cookie.js';
import { buildSchema } from './schema/index.js';

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
  readonly jwks: JSONWebKeySet;
  readonly logger: Logger;
  readonly ping: () => Promise<void>;
  readonly trustProxy: boolean;
  readonly development: boolean;
  /** GraphiQL at /graphql, and introspection: off means both. */
  readonly graphiql: boolean;
  readonly maxRequestBodyBytes: number;
  readonly clock: Clock;
  /** Exact origins allowed cross-origin with credentials (CORS_ORIGINS). */
  readonly corsOrigins: readonly string[];
  /** Where the built page is (dist/web/). */
  readonly pageDirectory: URL;
}

const GRAPHQL_ENDPOINT = '/graphql';

export function createYogaServer(deps: YogaDeps): TidepassYoga {
  const refreshCookies = createRefreshCookies({ clock: deps.clock, corsOrigins: deps.corsOrigins });
  return createYoga<ServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: deps.graphiql
      ? {
          title: 'tidepass GraphiQL',
          shouldPersistHeaders: false,
          // GraphiQL subscribes over GET (SSE), which CSRF prevention refuses without this header.
          additionalHeaders: { [CSRF_HEADER]: '1' },
        }
      : false,
    renderGraphiQL: renderGraphiqlPage,
    // yoga's default CORS reflects any Origin with credentials; useCors allows CORS_ORIGINS only.
    cors: false,
    maskedErrors: { maskError: maskWith(deps.development), isDev: deps.development },
    // The body limit (413 REQUEST_ENTITY_TOO_LARGE) is useStrictRequestFormat's: cheaper than yoga's.
    maxRequestBodySize: false,
    // One operation per request: a batch would multiply what one request can try.
    batching: false,
    multipart: false,
    logging: {
      // yoga's debug and info lines can carry variables (passwords, tokens): never let them through.
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => deps.logger.warn('yoga', { detail: args.map(String) }),
      error: (...args: unknown[]) => {
        const error = originalError(args.find((arg) => arg instanceof Error));
        // Expected failures (AuthError) are answers, not faults.
        if (error instanceof AuthError) return;
        // The original error, not its GraphQL wrapper: the logger knows how to keep request data out of it.
        deps.logger.error('yoga', { error });
      },
    },
    // One context factory for HTTP, SSE and graphql-ws (which has connectionParams and no Request).
    context: ({ request, req, connectionParams, client }) =>
      createContext({
        auth: deps.auth,
        revocationFeed: deps.revocationFeed,
        authorization: connectionParams
          ? bearerFromConnectionParams(connectionParams)
          : request.headers.get('authorization'),
        client: client ?? clientInfo(request?.headers, req, deps.trustProxy),
        refreshCookie: refreshCookies.jarFor(connectionParams ? undefined : request),
      }),
    plugins: [
      useCors(deps.corsOrigins),
      useSecurityHeaders(),
      usePage({ directory: deps.pageDirectory, logger: deps.logger }),
      ...(deps.graphiql ? [useGraphiqlAssets({ graphqlEndpoint: GRAPHQL_ENDPOINT })] : [useNoIntrospection()]),
      refreshCookies.plugin,
      useReadiness(deps.ping),
      useJwks(deps.jwks),
      useStrictRequestFormat({ maxBodyBytes: deps.maxRequestBodyBytes }),
      useCsrfPrevention(),
      ...useDocumentLimits({ hideSuggestions: !deps.development }),
      useRequestLog(deps.logger),
      useVariableErrorCode(),
      useScopeCacheReleaseOnSubscribe(),
    ],
  });
}

/** AuthError becomes a GraphQL error with its code; anything else is masked as INTERNAL_SERVER_ERROR. */
function maskWith(development: boolean) {
  return (error: unknown, message: string): Error => {
    const original = originalError(error);
    if (original instanceof AuthError) {
      const located = isGraphQLError(error) ? { nodes: error.nodes, path: error.path } : {};
      return new GraphQLError(original.message, {
        ...located,
        extensions: { code: original.code, ...original.details },
      });
    }
    return maskError(withoutQueryValues(error), message, development);
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

/**
 * GET /ready: 200 while the database answers, else 503. yoga's useReadinessCheck does the same but
 * matches every request's URL against a URLPattern (a polyfill on Node 20): 6 % of the main thread
 * during a burst of logouts, for a path compared here in one string comparison.
 */
function useReadiness(ping: () => Promise<void>): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/ready') return;
      return ping().then(
        () => endResponse(new fetchAPI.Response(null, { status: 200 })),
        () => endResponse(new fetchAPI.Response(null, { status: 503 })),
      );
    },
  };
}

function useJwks(jwks: JSONWebKeySet): Plugin {
  const body = JSON.stringify(jwks);
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/.well-known/jwks.json') return;
      endResponse(
        new fetchAPI.Response(body, {
          headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' },
        }),
      );
    },
  };
}

/**
 * graphql-js reports a missing or mistyped variable without any code; every failure of ours has one.
 * Such a result has no `data` at all (nothing executed), unlike a resolver's error (`data: null`).
 */
function useVariableErrorCode(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Symbol.asyncIterator in result || result.data !== undefined || !result.errors) return;
      setResult({
        ...result,
        errors: result.errors.map((error) =>
          error.extensions?.code
            ? error
            : new GraphQLError(error.message, {
                nodes: error.nodes,
                source: error.source,
                positions: error.positions,
                path: error.path,
                extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
              }),
        ),
      });
    },
  };
}

/**
 * Pothos's scope-auth caches what it decided per context object (five Maps, about 1 kB), and a
 * subscription's context lives as long as the subscription: its events are resolved with it. The
 * subscription is authorized once, when it starts (authorizeOnSubscribe), so the cache is dropped as
 * soon as the subscription has started rather than kept for each of thousands of subscribers.
 */
function useScopeCacheReleaseOnSubscribe(): Plugin {
  // One object for every subscription: envelop keeps what onSubscribe returns for the subscription's life.
  const afterSubscribe = {
    onSubscribeResult({ args }: { args: { contextValue: unknown } }) {
      if (args.contextValue) RequestCache.clearForContext(args.contextValue as object);
    },
  };
  return { onSubscribe: () => afterSubscribe };
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** One JSON line per request with a request id; never headers or bodies, which carry credentials. */
function useRequestLog(logger: Logger): Plugin {
  const started = new WeakMap<Request, { id: string; at: number; path: string }>();
  return {
    onRequest({ request, url }) {
      const given = request.headers.get('x-request-id');
      started.set(request, {
        id: given && REQUEST_ID_PATTERN.test(given) ? given : crypto.randomUUID(),
        at: performance.now(),
        // yoga has parsed the URL already; parsing it again per response was a measurable cost.
        path: url.pathname,
      });
    },
    onResponse({ request, response }) {
      const start = started.get(request);
      if (!start) return;
      response.headers.set('x-request-id', start.id);
      logger.info('request', {
        requestId: start.id,
        method: request.method,
        path: start.path,
        status: response.status,
        ms: Math.round((performance.now() - start.at) * 10) / 10,
      });
    },
  };
}

/**
 * The client's address: the socket's, or behind a proxy (TRUST_PROXY) the last X-Forwarded-For hop,
 * the one our own proxy appended; earlier hops are whatever the client claimed.
 */
export function clientInfo(
  headers: Headers | undefined,
  req: IncomingMessage | undefined,
  trustProxy: boolean,
): ClientInfo {
  const header = (name: string): string | null => {
    if (headers) return headers.get(name);
    const value = req?.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? null);
  };
  const forwarded = trustProxy ? header('x-forwarded-for') : null;
  const fromProxy = forwarded?.split(',').map((hop) => hop.trim()).filter(Boolean).at(-1);
  const ip = fromProxy ?? req?.socket.remoteAddress ?? null;
  return { userAgent: header('user-agent'), ip: ip?.slice(0, 64) ?? null };
}

/** graphql-ws clients send `{ authorization: "Bearer <jwt>" }` in connection_init. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const value = params?.['authorization'] ?? params?.['Authorization'];
  return typeof value === 'string' ? value : null;
}
