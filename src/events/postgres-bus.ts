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
}

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

  const client = postgres(options.url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: 5,
    fetch_types: false,
    onnotice: () => {},
    onnotify: (channel: string, payload: string) => {
      if (channel === REVOCATION_CHANNEL) receive(payload);
    },
    onclose: () => {
      if (stopped) return;
      listening = false;
      options.onDesynchronised();
      scheduleListen();
    },
  } as postgres.Options<Record<string, never>>);

  function receive(payload: string): void {
    const wire = parseWire(payload);
    if (!wire) return options.logger.warn('ignored a malformed revocation notification');
    if (wire.i === options.instanceId) return;
    for (const [sessionId, userId, reason, revokedAtMs] of wire.e) {
      listeners.emit({ sessionId, userId, reason, revokedAt: new Date(revokedAtMs) });
    }
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
      for (let start = 0; start < events.length; start += EVENTS_PER_NOTIFY) {
        const wire: Wire = {
          i: options.instanceId,
          e: events
            .slice(start, start + EVENTS_PER_NOTIFY)
            .map((event) => [event.sessionId, event.userId, event.reason, event.revokedAt.getTime()]),
        };
        await tx.execute(sql`select pg_notify(${REVOCATION_CHANNEL}, ${JSON.stringify(wire)})`);
      }
    },
    deliverLocally: (events) => events.forEach((event) => listeners.emit(event)),
    subscribe: (listener) => listeners.add(listener),
    start: () => listen(),
    async stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
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
