import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import type { Executor } from '../db/client.js';
import type { RevocationBus, SessionRevoked } from '../events/revocation-bus.js';
import type { Logger } from '../logger.js';
import { endedSince } from './ended-sessions.js';
import { FeedConnection } from './feed-connection.js';
import { FeedKeys } from './feed-keys.js';
import { eventIdTime, HEARTBEAT, helloEvent, readyEvent, revokedEvent } from './sse.js';

export const REVOCATION_STREAM_PATH = '/revocations';
const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * A resumption replays from this long before its id's time: an end is stamped when its transaction
 * starts, not when it commits, and instances' clocks differ; an end committed after a later-stamped
 * one is still replayed.
 */
const RESUME_OVERLAP_MS = 60_000;
/** Snapshot events per write: large enough to be cheap, small enough for backpressure to act. */
const SNAPSHOT_BATCH = 256;

export interface RevocationStreamDeps {
  /** REVOCATION_FEED_KEYS; none: the endpoint does not exist. */
  readonly keys: readonly string[];
  /** REVOCATION_FEED_MAX_CLIENTS. */
  readonly maxClients: number;
  readonly bus: RevocationBus;
  readonly db: Executor;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds an end matters (ACCESS_TOKEN_TTL + the verification tolerance): the snapshot's reach. */
  readonly windowSeconds: number;
  /**
   * Whether this instance hears every end right now (its LISTEN connection is up). Heartbeats are
   * withheld while it is not, so that services count the gap as the feed being down.
   */
  readonly isSynchronised: () => boolean;
  readonly heartbeatMs?: number;
  /** Unsent output a connection may accumulate before it is cut as a slow consumer. */
  readonly maxBufferedBytes?: number;
}

export interface RevocationStream {
  /** Answers GET /revocations; false for any other request (and for every request when unconfigured: 404). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  readonly clientCount: number;
  /** Ends every connection cleanly (shutdown); later requests get 503. */
  close(): void;
}

/** GET /revocations: every session end, for services that verify our tokens themselves (packages/verifier). */
export function createRevocationStream(deps: RevocationStreamDeps): RevocationStream {
  const keys = new FeedKeys(deps.keys);
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const limits = { maxBufferedBytes: deps.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, maxHeldEvents: 10_000 };
  const connections = new Set<FeedConnection>();
  let closed = false;
  let heartbeat: NodeJS.Timeout | undefined;

  const onCut = (buffered: number) => deps.logger.warn('revocation stream: cut a client that does not read', { buffered });

  function startHeartbeat(): void {
    heartbeat ??= setInterval(() => {
      if (!deps.isSynchronised()) return;
      for (const connection of connections) if (connection.live) connection.push(HEARTBEAT);
    }, heartbeatMs);
    heartbeat.unref();
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const connection = new FeedConnection(res, limits, onCut);
    connections.add(connection);
    // Subscribed before the snapshot is read: an end committed meanwhile is in one or the other (or both).
    const unsubscribe = deps.bus.subscribe((event) => connection.push(revokedEvent(toEnded(event))));
    res.once('close', () => {
      unsubscribe();
      connections.delete(connection);
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const now = deps.clock();
    res.write(
      helloEvent({
        issuer: deps.issuer,
        audience: deps.audience,
        accessTokenTtl: deps.accessTokenTtl,
        serverTime: now,
        heartbeatInterval: heartbeatMs,
      }),
    );
    try {
      const ends = await endedSince(deps.db, replayFrom(header(req, 'last-event-id'), now));
      for (let i = 0; i < ends.length && !connection.closed; i += SNAPSHOT_BATCH) {
        await connection.writeSnapshot(ends.slice(i, i + SNAPSHOT_BATCH).map(revokedEvent).join(''));
      }
      await connection.writeSnapshot(readyEvent(ends.length));
      connection.goLive();
    } catch (error) {
      // The client reconnects (with backoff) and asks again; its staleness counts meanwhile.
      deps.logger.warn('revocation stream: reading the ended sessions failed', { error });
      connection.cut();
    }
  }

  /** Where a snapshot or a replay starts: never before the window, never after now minus the overlap. */
  function replayFrom(lastEventId: string | undefined, now: Date): Date {
    const windowStart = now.getTime() - deps.windowSeconds * 1000;
    const resumeAt = eventIdTime(lastEventId);
    if (resumeAt === null) return new Date(windowStart);
    return new Date(Math.max(windowStart, Math.min(resumeAt, now.getTime()) - RESUME_OVERLAP_MS));
  }

  return {
    handle(req, res) {
      if ((req.url ?? '').split('?')[0] !== REVOCATION_STREAM_PATH || !keys.configured) return false;
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
      } else if (!keys.accepts(header(req, 'authorization'))) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="revocations"', 'cache-control': 'no-store' }).end();
      } else if (closed || connections.size >= deps.maxClients) {
        res.writeHead(503, { 'retry-after': '5', 'cache-control': 'no-store' }).end();
      } else {
        startHeartbeat();
        void serve(req, res);
      }
      return true;
    },
    get clientCount() {
      return connections.size;
    },
    close() {
      closed = true;
      clearInterval(heartbeat);
      for (const connection of connections) connection.end();
    },
  };
}

function toEnded(event: SessionRevoked) {
  return { sessionId: event.sessionId, userId: event.userId, reason: event.reason, endedAt: event.revokedAt };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
