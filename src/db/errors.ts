/**
 * Which database failures mean "the database cannot be reached or answer right now" (the client
 * sees SERVICE_UNAVAILABLE and may retry) rather than a bug (INTERNAL_SERVER_ERROR).
 */

/** postgres.js's own connection errors, Node's socket errors, our read watchdog's and call deadline's. */
const CONNECTION_ERROR_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'DATABASE_READ_TIMEOUT',
  'DATABASE_DEADLINE',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server that is going away, starting up, overloaded, or that timed a statement out. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is restarting
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
  '53300', // too_many_connections
  '53000', // insufficient_resources
  '40001', // serialization_failure: retrying later succeeds
  '40P01', // deadlock_detected: likewise
]);

const MAX_CAUSE_DEPTH = 5;

export class DatabaseReadTimeout extends Error {
  override readonly name = 'DatabaseReadTimeout';
  readonly code = 'DATABASE_READ_TIMEOUT';
}

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
    }
    // The embedded database after close() (during shutdown).
    if (current.message === 'PGlite is closed') return true;
    current = current.cause;
  }
  return false;
}

/** PostgreSQL chose this transaction as a deadlock's victim (SQLSTATE 40P01): it was rolled back, and may run again. */
export function isDeadlock(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth += 1) {
    if ((current as { code?: unknown }).code === '40P01') return true;
    current = current.cause;
  }
  return false;
}

/** A unique index refused the row (SQLSTATE 23505): another transaction took the value first. */
export function isUniqueViolation(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth += 1) {
    if ((current as { code?: unknown }).code === '23505') return true;
    current = current.cause;
  }
  return false;
}
