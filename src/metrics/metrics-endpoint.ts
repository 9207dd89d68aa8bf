import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export const METRICS_PATH = '/metrics';

/** Where GET /metrics is served: on the main port behind a bearer token, on a port of its own, or nowhere. */
export interface MetricsExposure {
  /** METRICS_TOKEN: required as `Authorization: Bearer …` wherever /metrics is served. */
  readonly token: string | undefined;
  /** METRICS_PORT: served there only (the main port answers 404). */
  readonly port: number | undefined;
}

export const metricsEnabled = (exposure: MetricsExposure) => exposure.token !== undefined || exposure.port !== undefined;

/**
 * Answers GET /metrics (true) or leaves the request to the next handler (false). Constant-time
 * comparison of SHA-256 digests: equal lengths whatever was sent, and nothing learnt from timing.
 */
export function metricsHandler(registry: Registry, token: string | undefined): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = token === undefined ? undefined : digest(token);
  return (req, res) => {
    if (pathOf(req) !== METRICS_PATH) return false;
    if (expected && !bearerMatches(req.headers.authorization, expected)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('401 Unauthorized\n');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(500).end(),
    );
    return true;
  };
}

/** The listener of METRICS_PORT: /metrics and nothing else. */
export function createMetricsServer(handle: (req: IncomingMessage, res: ServerResponse) => boolean): {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
} {
  const server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404).end();
  });
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function bearerMatches(authorization: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}
