import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TidepassYoga } from '../graphql/yoga.js';

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish, then closes every socket after at most `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Answers a request itself (true) or leaves it to yoga (false): for streams yoga should not buffer. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createHttpServer(yoga: TidepassYoga, route?: RouteHandler): HttpServer {
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      // The connection of a request that was in flight at close() is idle now: let it go at once.
      if (closing) server.closeIdleConnections();
    });
    if (closing) res.shouldKeepAlive = false;
    if (route?.(req, res)) return;
    void yoga(req, res);
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
    close: (graceMs) =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        closing = true;
        // Answers still to come tell keep-alive clients to go: otherwise their idle socket would hold
        // the shutdown until the force timeout.
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
