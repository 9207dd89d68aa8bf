import type { JSONWebKeySet } from 'jose';
import type { Plugin } from 'graphql-yoga';

/**
 * GET /ready: 200 while the database answers, else 503. By one string comparison rather than yoga's
 * useReadinessCheck, which matches every request's URL against a URLPattern (a polyfill on Node 20).
 */
export function useReadiness(ping: () => Promise<void>): Plugin {
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

/**
 * GET /.well-known/jwks.json: the public keys that verify our access tokens, as they stand now (a
 * rotation publishes a key JWKS_MAX_AGE before signing with it, so caches always hold it in time).
 */
export function useJwks(jwks: () => JSONWebKeySet, maxAgeSeconds: number): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/.well-known/jwks.json') return;
      endResponse(
        new fetchAPI.Response(JSON.stringify(jwks()), {
          headers: { 'content-type': 'application/jwk-set+json', 'cache-control': `public, max-age=${maxAgeSeconds}` },
        }),
      );
    },
  };
}
