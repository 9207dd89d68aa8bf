import net from 'node:net';

/**
 * A TCP proxy between the app and PostgreSQL, so that tests can make the database unreachable for
 * this app only, without touching the shared server: `cut` (connections reset, new ones refused),
 * `hang` (connections stay open but nothing gets through: a network partition), `drop` (connections
 * closed cleanly, new ones accepted and closed at once: a load balancer without a backend), `trickle`
 * (the server's bytes arrive one at a time: a degraded link), `restore`.
 */
export interface TcpProxy {
  readonly port: number;
  /** The same postgres:// URL, through the proxy. */
  urlFor(target: string): string;
  /** Resets every open connection and every new one until `restore`. */
  cut(): void;
  /** Forwards nothing either way (open and new connections alike) until `restore`. */
  hang(): void;
  /** Closes every open connection cleanly (FIN, no reset), and every new one as soon as it is accepted, until `restore`. */
  drop(): void;
  /**
   * Passes the server's bytes on one at a time, one every TRICKLE_INTERVAL_MS (open and new
   * connections alike), until `restore`: every answer arrives, slowly, and never stops arriving.
   */
  trickle(): void;
  restore(): void;
  /**
   * Resets the connection whose next client-to-server bytes match, before they reach the server.
   * Resolves once it happened.
   */
  killOnClientData(match: (chunk: Buffer) => boolean): Promise<void>;
  /**
   * Resets the connection whose next server-to-client bytes match, before they reach the client: the
   * server did the work (a COMMIT's acknowledgement, say), the client never hears so. Resolves once it happened.
   */
  killOnServerData(match: (chunk: Buffer) => boolean): Promise<void>;
  /**
   * Silently drops everything, both ways and for good, on the open connections whose first
   * client bytes (the startup message, which names the application) match: a dead route, no FIN.
   * Returns how many connections it froze; new connections are not affected.
   */
  blackhole(matchStartup: (startup: Buffer) => boolean): number;
  /**
   * Silently drops everything, both ways and for good, on the connection whose next client bytes
   * match (they never reach the server): a query sent on a connection that then stops answering.
   */
  freezeOnClientData(match: (chunk: Buffer) => boolean): void;
  readonly openConnections: number;
  close(): Promise<void>;
}

type Mode = 'open' | 'cut' | 'hang' | 'drop' | 'trickle';

const TRICKLE_INTERVAL_MS = 200;

interface Pair {
  readonly client: net.Socket;
  readonly server: net.Socket;
  /** Bytes held back while hanging, per direction. */
  readonly held: { toServer: Buffer[]; toClient: Buffer[] };
  startup?: Buffer;
  blackholed?: boolean;
}

export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: Mode = 'open';
  const pairs = new Set<Pair>();
  const dropped = new Set<net.Socket>();
  const killers: { match: (chunk: Buffer) => boolean; done: () => void }[] = [];
  const replyKillers: { match: (chunk: Buffer) => boolean; done: () => void }[] = [];
  const freezers: ((chunk: Buffer) => boolean)[] = [];
  let trickler: NodeJS.Timeout | undefined;
  const trickleOneByte = () => {
    for (const pair of pairs) {
      const first = pair.held.toClient[0];
      if (!first) continue;
      pair.client.write(first.subarray(0, 1));
      if (first.length > 1) pair.held.toClient[0] = first.subarray(1);
      else pair.held.toClient.shift();
    }
  };

  const reset = (pair: Pair) => {
    pair.client.resetAndDestroy();
    pair.server.resetAndDestroy();
    pairs.delete(pair);
  };

  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'drop') {
      // Kept until closed, so that close() can destroy one whose peer never closed its side.
      dropped.add(client);
      client.on('close', () => dropped.delete(client));
      client.end();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    upstream.on('error', () => {});
    const pair: Pair = { client, server: upstream, held: { toServer: [], toClient: [] } };
    pairs.add(pair);

    client.on('data', (chunk: Buffer) => {
      pair.startup ??= chunk;
      if (pair.blackholed) return;
      const freezer = freezers.find((match) => match(chunk));
      if (freezer) {
        freezers.splice(freezers.indexOf(freezer), 1);
        pair.blackholed = true;
        return;
      }
      const killer = killers.find((k) => k.match(chunk));
      if (killer) {
        killers.splice(killers.indexOf(killer), 1);
        reset(pair);
        killer.done();
        return;
      }
      if (mode === 'hang') pair.held.toServer.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.blackholed) return;
      const killer = replyKillers.find((k) => k.match(chunk));
      if (killer) {
        replyKillers.splice(replyKillers.indexOf(killer), 1);
        reset(pair);
        killer.done();
        return;
      }
      if (mode === 'hang' || mode === 'trickle') pair.held.toClient.push(chunk);
      else client.write(chunk);
    });
    const end = () => {
      if (!pairs.has(pair)) return;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    urlFor(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) reset(pair);
    },
    hang() {
      mode = 'hang';
    },
    drop() {
      mode = 'drop';
      // Until both sides have closed, they stay in `pairs` (see `end` above) for close() to destroy.
      for (const pair of pairs) {
        pair.client.end();
        pair.server.end();
      }
    },
    trickle() {
      mode = 'trickle';
      trickler ??= setInterval(trickleOneByte, TRICKLE_INTERVAL_MS);
    },
    restore() {
      mode = 'open';
      clearInterval(trickler);
      trickler = undefined;
      for (const pair of pairs) {
        for (const chunk of pair.held.toServer.splice(0)) pair.server.write(chunk);
        for (const chunk of pair.held.toClient.splice(0)) pair.client.write(chunk);
      }
    },
    killOnClientData(match) {
      return new Promise((resolve) => killers.push({ match, done: resolve }));
    },
    killOnServerData(match) {
      return new Promise((resolve) => replyKillers.push({ match, done: resolve }));
    },
    freezeOnClientData(match) {
      freezers.push(match);
    },
    blackhole(matchStartup) {
      let frozen = 0;
      for (const pair of pairs) {
        if (pair.startup && matchStartup(pair.startup)) {
          pair.blackholed = true;
          frozen += 1;
        }
      }
      return frozen;
    },
    get openConnections() {
      return pairs.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(trickler);
        for (const pair of [...pairs]) reset(pair);
        for (const socket of dropped) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
