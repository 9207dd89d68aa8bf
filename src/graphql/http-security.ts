import type { IncomingMessage } from 'node:http';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codedError } from './coded-error.js';
import type { AudienceCheck } from './conveniences.js';

/** The custom header yoga's CSRF prevention accepts; a cross-site form or image cannot send it. */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/** What a browser may send cross-origin besides the CORS-safelisted headers. */
const ALLOWED_HEADERS = ['authorization', 'content-type', CSRF_HEADER, 'x-request-id'];
const ALLOWED_METHODS = ['GET', 'POST'];
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Whether a request's Origin may use the refresh cookie: our own origin (same host as the request
 * was sent to) or one of the exact CORS_ORIGINS. A request without Origin is refused: browsers send
 * it on every POST, and GET never runs a mutation.
 */
export function isOriginAllowed(request: Request, corsOrigins: readonly string[]): boolean {
  return originMayCall(request.headers.get('origin'), new URL(request.url).host, corsOrigins);
}

/**
 * The rule itself, for HTTP and WebSocket upgrades alike; `host` is the (URL-normalised) host the
 * request was sent to. By host rather than whole origin: behind a TLS-terminating proxy the
 * request URL says http.
 */
export function originMayCall(origin: string | null | undefined, host: string, corsOrigins: readonly string[]): boolean {
  if (!origin || origin === 'null') return false;
  if (corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * CORS for exact origins only. yoga's own CORS (turned off in createYoga) reflects any Origin with
 * credentials, which would let every site on the web spend the refresh cookie. Here an origin not
 * listed gets no CORS header at all, so the browser withholds the response and refuses preflights.
 */
export function useCors(corsOrigins: readonly string[]): Plugin {
  const listed = (request: Request): string | null => {
    const origin = request.headers.get('origin');
    return origin && corsOrigins.includes(origin) ? origin : null;
  };
  return {
    onRequest({ request, fetchAPI, endResponse }) {
      if (request.method !== 'OPTIONS') return;
      endResponse(new fetchAPI.Response(null, { status: 204, headers: { 'content-length': '0' } }));
    },
    onResponse({ request, response }) {
      response.headers.append('vary', 'Origin');
      const origin = listed(request);
      if (!origin) return;
      response.headers.set('access-control-allow-origin', origin);
      response.headers.set('access-control-allow-credentials', 'true');
      if (request.method === 'OPTIONS') {
        response.headers.set('access-control-allow-methods', ALLOWED_METHODS.join(', '));
        response.headers.set('access-control-allow-headers', ALLOWED_HEADERS.join(', '));
        response.headers.set('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
      } else {
        response.headers.set('access-control-expose-headers', 'x-request-id');
      }
    },
  };
}

/**
 * yoga's CSRF prevention: a request that a cross-site page could send without a preflight (GET, or a
 * form's content type) must carry the custom header. POSTs are application/json only
 * (useStrictRequestFormat), which always needs a preflight. The refusal gets a code of ours.
 */
export function useCsrfPrevention(): Plugin {
  const prevention = useCSRFPrevention({ requestHeaders: [CSRF_HEADER] }) as Plugin;
  const check = prevention.onRequestParse!;
  return {
    onRequestParse(payload) {
      try {
        return check(payload);
      } catch {
        throw codedError('CSRF_HEADER_REQUIRED', { status: 403 });
      }
    },
  };
}

/** Introspection refused (GRAPHQL_VALIDATION_FAILED) to requests outside GRAPHIQL's audience. */
export function useNoIntrospection(allowed: AudienceCheck): Plugin<{ request?: Request; req?: IncomingMessage }> {
  return {
    onValidate({ addValidationRule, context }) {
      if (!allowed(context.request, context.req)) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** Content-Security-Policy of an HTML response; each page says what it needs. */
export type ContentSecurityPolicy = Readonly<Record<string, readonly string[]>>;

export function formatCsp(policy: ContentSecurityPolicy): string {
  return Object.entries(policy)
    .map(([directive, sources]) => [directive, ...sources].join(' '))
    .join('; ');
}

/** What any HTML we did not write a policy for gets: nothing loads, nothing frames it. */
const FALLBACK_HTML_CSP: ContentSecurityPolicy = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * nosniff and no Referer on every response; on HTML, a CSP (the page's own, set where it is served,
 * or a deny-all fallback) that always forbids framing.
 */
export function useSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      response.headers.set('x-content-type-options', 'nosniff');
      response.headers.set('referrer-policy', 'no-referrer');
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      if (!response.headers.has('content-security-policy')) {
        response.headers.set('content-security-policy', formatCsp(FALLBACK_HTML_CSP));
      }
      response.headers.set('x-frame-options', 'DENY');
    },
  };
}
