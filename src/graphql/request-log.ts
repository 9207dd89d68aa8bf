import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** One JSON line per request with a request id; never headers or bodies, which carry credentials. */
export function useRequestLog(logger: Logger): Plugin {
  const started = new WeakMap<Request, { id: string; at: number; path: string }>();
  return {
    onRequest({ request, url }) {
      const given = request.headers.get('x-request-id');
      started.set(request, {
        id: given && REQUEST_ID_PATTERN.test(given) ? given : crypto.randomUUID(),
        at: performance.now(),
        // yoga has parsed the URL already: parsing it again per response costs measurably.
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
