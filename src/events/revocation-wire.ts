import { revocationReasons, type RevocationReason, type SessionRevoked } from './revocation-bus.js';

/** The PostgreSQL channel revocations travel on, between instances and from the database itself. */
export const REVOCATION_CHANNEL = 'tidepass_session_revoked';
/**
 * The announcing "instance" of the events the database raises by itself (a live session's row
 * deleted: drizzle/0005_announce_deleted_sessions.sql, which writes this same format).
 */
export const DATABASE_ANNOUNCER = 'database';

/** One NOTIFY payload. Payloads are limited to 8000 bytes; one event is about 120. */
export interface Wire {
  /** The announcing instance: it already delivered its own events locally after commit. */
  i: string;
  e: [sessionId: string, userId: string, reason: RevocationReason, revokedAtMs: number][];
}

export function toWire(instanceId: string, events: readonly SessionRevoked[]): Wire {
  return {
    i: instanceId,
    e: events.map((event) => [event.sessionId, event.userId, event.reason, event.revokedAt.getTime()]),
  };
}

/** Session and user ids are UUIDs: anything else can name no access token's session. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The range of a JavaScript Date: beyond it (or Infinity, which JSON.parse makes of 1e400) a time is Invalid Date. */
const MAX_TIME_MS = 8.64e15;

/**
 * The payload's announcer and events, or null when it is not one of ours. Strict because the
 * channel is not ours alone: any role that may connect to the database can NOTIFY on it.
 */
export function fromWire(payload: string): { announcer: string; events: SessionRevoked[] } | null {
  let wire: Wire;
  try {
    wire = JSON.parse(payload) as Wire;
  } catch {
    return null;
  }
  if (typeof wire?.i !== 'string' || !Array.isArray(wire.e)) return null;
  const valid = wire.e.every(
    (e) =>
      Array.isArray(e) &&
      typeof e[0] === 'string' &&
      UUID.test(e[0]) &&
      typeof e[1] === 'string' &&
      UUID.test(e[1]) &&
      (revocationReasons as readonly string[]).includes(e[2]) &&
      Number.isSafeInteger(e[3]) &&
      Math.abs(e[3]) <= MAX_TIME_MS,
  );
  if (!valid) return null;
  return {
    announcer: wire.i,
    events: wire.e.map(([sessionId, userId, reason, revokedAtMs]) => ({
      sessionId,
      userId,
      reason,
      revokedAt: new Date(revokedAtMs),
    })),
  };
}
