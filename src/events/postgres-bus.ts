import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Transaction } from '../db/client.js';
import type { Logger } from '../logger.js';
import { ListenerSet } from './listeners.js';
import { revocationReasons, type RevocationBus, type RevocationReason, type SessionRevoked } from './revocation-bus.js';

export const REVOCATION_CHANNEL = 'tidepass_session_revoked';
/** NOTIFY payloads are limited to 8000 bytes; one event is about 120. */
const EVENTS_PER_NOTIFY = 40;
const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];

interface Wire {
  /** The announcing instance: it already delivered its own events locally after commit. */
  i: string;
  e: [sessionId: string, userId: string, reason: RevocationReason, revokedAtMs: number][];
}

export interface PostgresBusOptions {
  readonly url: string;
  readonly instanceId: string;
  readonly logger: Logger;
  /** The LISTEN connection dropped: events may be missed until `onResynchronise` has run. */
  readonly onDesynchronised: () => void;
  /** LISTEN is (re)established: reload whatever may have been missed. */
  readonly onResynchronise: () => Promise<void>;
  /**
   * This instance's own notifications coming back. Its listeners already had these events from
   * deliverLocally, unless the commit's acknowledgement was lost (the transaction committed but the
   * caller saw an error and never delivered): the revocation set takes them again, idempotently.
   */
  readonly onOwnEvents?: (events: readonly SessionRevoked[]) => void;
  /**
   * How often the idle LISTEN connection is probed; a probe still unanswered at the next one means
   * the connection is dead. One that died without a FIN (a dropped route, a frozen peer) is
   * otherwise silent forever while notifications go unheard.
   */
  readonly heartbeatMs?: number;
}

/** The LISTEN connection's application_name: lets operators (and tests) tell which instance it is. */
export const listenApplicationName = (instanceId: string) => `tidepass-listen ${instanceId}`;

/**
 * Revocations across instances through PostgreSQL: NOTIFY inside the ending transaction (delivered
 * only if it commits) and LISTEN on one dedicated connection per instance. postgres.js's own
 * `listen` gives up for good when a re-listen fails during an outage, so the connection is managed here.
 */
export function createPostgresBus(options: PostgresBusOptions): RevocationBus & { readonly listening: boolean } {
  const listeners = new ListenerSet((error) => options.logger.error('revocation listener failed', { error }));
  let stopped = false;
  let listening = false;
  let reconnectAttempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const connect = (): postgres.Sql => {
    const sql: postgres.Sql = postgres(options.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 5,
      fetch_types: false,
      connection: { application_name: listenApplicationName(options.instanceId) },
      onnotice: () => {},
      onnotify: (channel: string, payload: string) => {
        if (channel === REVOCATION_CHANNEL) receive(payload);
      },
      // A client replaced after a failed heartbeat closing late is no news.
      onclose: () => {
        if (sql === client) lost();
      },
    } as postgres.Options<Record<string, never>>);
    return sql;
  };
  let client = connect();

  function lost(): void {
    if (stopped) return;
    listening = false;
    options.onDesynchronised();
    scheduleListen();
  }

  function receive(payload: string): void {
    const wire = parseWire(payload);
    if (!wire) return options.logger.warn('ignored a malformed revocation notification');
    const events = wire.e.map(([sessionId, userId, reason, revokedAtMs]) => ({
      sessionId,
      userId,
      reason,
      revokedAt: new Date(revokedAtMs),
    }));
    if (wire.i === options.instanceId) return options.onOwnEvents?.(events);
    for (const event of events) listeners.emit(event);
  }

  let heartbeat: NodeJS.Timeout | undefined;
  /** The client whose probe is still unanswered, if any. */
  let probing: postgres.Sql | undefined;
  function startHeartbeat(): void {
    if (!options.heartbeatMs || heartbeat) return;
    heartbeat = setInterval(() => {
      if (!listening || stopped) return;
      if (probing === client) {
        // Unanswered for a whole interval: a dead route or a frozen peer. An ended postgres.js
        // client cannot be reused: drop it and LISTEN again on a new one.
        options.logger.warn('revocation LISTEN connection did not answer; reconnecting');
        const dead = client;
        probing = undefined;
        client = connect();
        void dead.end({ timeout: 0 }).catch(() => {});
        lost();
        return;
      }
      const probed = client;
      probing = probed;
      // A probe that fails was on a connection that closed: onclose handles that.
      const answered = () => {
        if (probing === probed) probing = undefined;
      };
      probed.unsafe('select 1').then(answered, answered);
    }, options.heartbeatMs);
    heartbeat.unref();
  }

  async function listen(): Promise<void> {
    await client.unsafe(`listen ${REVOCATION_CHANNEL}`);
    // LISTEN first, then reload: whatever commits from now on arrives as a notification,
    // and whatever committed before is in the reload.
    await options.onResynchronise();
    listening = true;
    reconnectAttempt = 0;
  }

  function scheduleListen(): void {
    if (stopped || reconnectTimer) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(reconnectAttempt, RECONNECT_DELAYS_MS.length - 1)]!;
    reconnectAttempt += 1;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      listen().catch((error: unknown) => {
        options.logger.warn('revocation LISTEN failed; retrying', { error });
        scheduleListen();
      });
    }, delay);
    reconnectTimer.unref();
  }

  return {
    get listening() {
      return listening;
    },
    async announce(tx: Transaction, events: readonly SessionRevoked[]) {
      const payloads = [];
      for (let start = 0; start < events.length; start += EVENTS_PER_NOTIFY) {
        const wire: Wire = {
          i: options.instanceId,
          e: events
            .slice(start, start + EVENTS_PER_NOTIFY)
            .map((event) => [event.sessionId, event.userId, event.reason, event.revokedAt.getTime()]),
        };
        payloads.push(sql`(${JSON.stringify(wire)})`);
      }
      if (payloads.length === 0) return;
      // Every chunk in one statement: a batch of revocations costs one round trip here, not one per chunk.
      await tx.execute(
        sql`select pg_notify(${REVOCATION_CHANNEL}, payload) from (values ${sql.join(payloads, sql`, `)}) as chunks (payload)`,
      );
    },
    deliverLocally: (events) => events.forEach((event) => listeners.emit(event)),
    subscribe: (listener) => listeners.add(listener),
    async start() {
      await listen();
      startHeartbeat();
    },
    async stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
      clearInterval(heartbeat);
      await client.end({ timeout: 2 });
    },
  };
}

function parseWire(payload: string): Wire | null {
  try {
    const wire = JSON.parse(payload) as Wire;
    if (typeof wire.i !== 'string' || !Array.isArray(wire.e)) return null;
    const valid = wire.e.every(
      (e) =>
        Array.isArray(e) &&
        typeof e[0] === 'string' &&
        typeof e[1] === 'string' &&
        (revocationReasons as readonly string[]).includes(e[2]) &&
        typeof e[3] === 'number',
    );
    return valid ? wire : null;
  } catch {
    return null;
  }
}
