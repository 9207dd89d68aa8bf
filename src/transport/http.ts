import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TidepassYoga } from '../graphql/yoga.js';

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish, then closes every socket after at most `graceMs`. */
  close(graceMs: number): Promise<void>;
}

export function createHttpServer(yoga: TidepassYoga): HttpServer {
  const server = createServer(yoga);
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
