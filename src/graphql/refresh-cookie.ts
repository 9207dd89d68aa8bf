import type { Plugin } from 'graphql-yoga';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors.js';
import { isOriginAllowed } from './http-security.js';

/**
 * __Host-: the browser accepts it only with Secure, Path=/ and no Domain, so neither a sibling
 * subdomain nor a plain-http page can plant or overwrite it. Chromium and Firefox count
 * http://localhost as secure, so it works in local development too.
 */
export const REFRESH_COOKIE = '__Host-tidepass-refresh';

const ATTRIBUTES = 'Path=/; HttpOnly; Secure; SameSite=Strict';

/** The refresh token's cookie, as one GraphQL operation sees it. */
export interface RefreshCookieJar {
  /** False over graphql-ws, which has no HTTP response to set a cookie on. */
  readonly writable: boolean;
  /**
   * The refresh token the request's cookie carries, or null without one. A cookie from an origin that
   * may not use it (not ours, not in CORS_ORIGINS, or no Origin at all) is ORIGIN_NOT_ALLOWED.
   */
  take(): string | null;
  /** Sets the cookie on the response, to expire with the session. */
  set(token: string, sessionEndsAt: Date): void;
  /** Expires the cookie (Max-Age=0). */
  clear(): void;
}

const noCookies: RefreshCookieJar = {
  writable: false,
  take: () => null,
  set: () => {
    throw new Error('no HTTP response to set a cookie on');
  },
  clear: () => {},
};

/**
 * One jar per request, and the plugin that writes what the jars set onto the responses. The jar
 * records rather than touching the response: the response does not exist while resolvers run.
 */
export function createRefreshCookies(options: { clock: Clock; corsOrigins: readonly string[] }): {
  plugin: Plugin;
  jarFor(request: Request | undefined): RefreshCookieJar;
} {
  const pending = new WeakMap<Request, string>();
  return {
    plugin: {
      onResponse({ request, response }) {
        const cookie = pending.get(request);
        if (cookie) response.headers.append('set-cookie', cookie);
      },
    },
    jarFor(request) {
      if (!request) return noCookies;
      return {
        writable: true,
        take() {
          const token = readCookie(request.headers.get('cookie'), REFRESH_COOKIE);
          if (token === null) return null;
          // The CSRF line for cookie-authenticated calls: SameSite and the required preflight aside,
          // only our own pages and the listed origins may spend the cookie.
          if (!isOriginAllowed(request, options.corsOrigins)) throw new AuthError('ORIGIN_NOT_ALLOWED');
          return token;
        },
        set(token, sessionEndsAt) {
          const maxAge = Math.max(0, Math.floor((sessionEndsAt.getTime() - options.clock().getTime()) / 1000));
          pending.set(request, `${REFRESH_COOKIE}=${token}; Max-Age=${maxAge}; ${ATTRIBUTES}`);
        },
        clear() {
          pending.set(request, `${REFRESH_COOKIE}=; Max-Age=0; ${ATTRIBUTES}`);
        },
      };
    },
  };
}

/** A cookie's value from a Cookie header. A mangled one is still returned: refusing it clears it. */
function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    const value = pair.slice(separator + 1).trim();
    if (value.length > 0 && value.length <= 512) return value;
  }
  return null;
}
