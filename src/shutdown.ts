import type { DatabaseHandle } from './db/client.js';
import type { Deadlines, Expiring } from './deadlines.js';
import type { RevocationBus } from './events/revocation-bus.js';
import type { RevocationFeed } from './events/revocation-feed.js';
import type { RevocationStream } from './feed/revocation-stream.js';
import type { PendingEnds } from './auth/pending-ends.js';
import type { HttpServer } from './transport/http.js';
import type { WebSocketTransport } from './transport/ws.js';

const SHUTDOWN_GRACE_MS = 8_000;

/** What an app holds open, in the order it is let go. */
export interface RunningParts {
  readonly stopBackgroundJobs: () => void;
  readonly pendingEnds: PendingEnds;
  readonly http: HttpServer;
  readonly ws: WebSocketTransport;
  readonly revocationFeed: RevocationFeed;
  readonly revocationStream: RevocationStream;
  readonly bus: RevocationBus;
  readonly expiries: Deadlines<Expiring>;
  /** Absent when the database was handed in: its owner closes it. */
  readonly ownedDatabase: DatabaseHandle | undefined;
}

/** One shutdown however often it is called (a signal, then a test's cleanup). */
export function shutdownOnce(parts: RunningParts): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= shutdown(parts));
}

async function shutdown(parts: RunningParts): Promise<void> {
  parts.stopBackgroundJobs();
  // Not awaited: an attempt in flight is bounded by the database timeouts and its outcome ignored.
  parts.pendingEnds.stop();
  // HTTP first, synchronously: from this moment no connection is accepted and every answer still to
  // come says `Connection: close`, however soon it is written.
  const httpClosed = parts.http.close(SHUTDOWN_GRACE_MS);
  parts.revocationStream.close();
  await parts.ws.close();
  parts.revocationFeed.close();
  await httpClosed;
  await parts.bus.stop();
  parts.expiries.clear();
  await parts.ownedDatabase?.close();
}
