import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Transaction } from '../db/client.js';
import type { Logger } from '../logger.js';
import { DeliveredEnds, ListenerSet } from './listeners.js';
import type { RevocationBus, SessionRevoked } from './revocation-bus.js';
import { fromWire, REVOCATION_CHANNEL, toWire } from './revocation-wire.js';

export { REVOCATION_CHANNEL } from './revocation-wire.js';
/** NOTIFY payloads are limited to 8000 bytes; one event is about 120. */
const EVENTS_PER_NOTIFY = 40;
const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];
const LISTEN_TIMEOUT_MS = 5_000;

export interface PostgresBusOptions {
  readonly url: string;
  readonly instanceId: string;
  readonly logger: Logger;
  /** The LISTEN connection dropped: events may be missed until `onResynchronise` has run. */
  readonly onDesynchronised: () => void;
  /**
   * LISTEN is (re)established: reload whatever may have been missed. Returns the revocations that
   * were missed; after a gap, this instance's listeners (subscribers, sockets) get them as if live.
   */
  readonly onResynchronise: () => Promise<readonly SessionRevoked[] | void>;
  /** How often the idle LISTEN connection is probed (`select 1`); 0 turns probing off. */
  readonly heartbeatMs?: number;
  /**
   * A probe unanswered this long means the connection is dead: one that died without a FIN (a dropped
   * route, a frozen peer) is otherwise silent forever while notifications go unheard.
   */
  readonly probeTimeoutMs: number;
  /** The longest LISTEN, and the reload after it, may take before the connection is given up. */
  readonly listenTimeoutMs?: number;
  /** For the operator's figures: each notification's events as received, and each LISTEN re-established after a gap. */
  readonly observer?: { notified(events: readonly SessionRevoked[]): void; relistened(): void };
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
  const delivered = new DeliveredEnds();
  const deliver = (events: readonly SessionRevoked[]) => {
    for (const event of events) if (delivered.isNew(event)) listeners.emit(event);
  };
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
    const received = fromWire(payload);
    if (!received) return options.logger.warn('ignored a malformed revocation notification');
    options.observer?.notified(received.events);
    // This instance's own come back too: already delivered after commit, unless the commit's
    // acknowledgement was lost (committed, yet the caller saw an error): then this is the only news.
    deliver(received.events);
  }

  /** The client is dead or hung: a new one replaces it (an ended postgres.js client cannot be reused). */
  function replaceClient(): void {
    const dead = client;
    client = connect();
    void dead.end({ timeout: 0 }).catch(() => {});
  }

  let heartbeat: NodeJS.Timeout | undefined;
  /** The client whose probe is still unanswered, if any. */
  let probing: postgres.Sql | undefined;
  function startHeartbeat(): void {
    if (!options.heartbeatMs || heartbeat) return;
    heartbeat = setInterval(() => {
      if (!listening || stopped || probing) return;
      const probed = (probing = client);
      // A probe that fails was on a connection that closed: onclose handles that.
      const overdue = setTimeout(() => {
        if (probing !== probed || probed !== client || stopped) return;
        // Unsynchronised at once: requests check the database until LISTEN is back and reloaded.
        options.logger.warn('revocation LISTEN connection did not answer; reconnecting');
        probing = undefined;
        replaceClient();
        lost();
      }, options.probeTimeoutMs);
      const answered = () => {
        clearTimeout(overdue);
        if (probing === probed) probing = undefined;
      };
      probed.unsafe('select 1').then(answered, answered);
    }, options.heartbeatMs);
    heartbeat.unref();
  }

  /** LISTEN and reload within the timeout; a connection that answers neither is given up. */
  async function listen(how: { afterGap: boolean }): Promise<void> {
    const timeoutMs = options.listenTimeoutMs ?? LISTEN_TIMEOUT_MS;
    const listened = client;
    try {
      await within(timeoutMs, listened.unsafe(`listen ${REVOCATION_CHANNEL}`));
      // LISTEN first, then reload: whatever commits from now on arrives as a notification,
      // and whatever committed before is in the reload.
      const missed = await within(timeoutMs, options.onResynchronise());
      listening = true;
      reconnectAttempt = 0;
      if (how.afterGap) options.observer?.relistened();
      // Sessions that ended while this instance was deaf: a subscriber whose session ended then must
      // still be told and have its socket closed. Not at start-up, when nobody has subscribed yet and
      // everything in the window would count as "missed".
      if (how.afterGap) deliver(missed ?? []);
    } catch (error) {
      if (error instanceof ListenTimeout && listened === client) replaceClient();
      throw error;
    }
  }

  function scheduleListen(): void {
    if (stopped || reconnectTimer) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(reconnectAttempt, RECONNECT_DELAYS_MS.length - 1)]!;
    reconnectAttempt += 1;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      listen({ afterGap: true }).catch((error: unknown) => {
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
        const wire = toWire(options.instanceId, events.slice(start, start + EVENTS_PER_NOTIFY));
        payloads.push(sql`(${JSON.stringify(wire)})`);
      }
      if (payloads.length === 0) return;
      // Every chunk in one statement: a batch of revocations costs one round trip here, not one per chunk.
      await tx.execute(
        sql`select pg_notify(${REVOCATION_CHANNEL}, payload) from (values ${sql.join(payloads, sql`, `)}) as chunks (payload)`,
      );
    },
    deliverLocally: deliver,
    subscribe: (listener) => listeners.add(listener),
    async start() {
      startHeartbeat();
      try {
        await listen({ afterGap: false });
      } catch (error) {
        // Start all the same, unsynchronised (checking the database per request), and keep trying.
        options.logger.warn('revocation LISTEN failed at start-up; retrying', { error });
        lost();
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
      clearInterval(heartbeat);
      await client.end({ timeout: 2 });
    },
  };
}

class ListenTimeout extends Error {
  override readonly name = 'ListenTimeout';
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ListenTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
