/** The revocation feed's events as tidepass sends them (README.md, "The feed's wire format"). */

export interface Hello {
  readonly issuer: string;
  readonly audience: string;
  /** Seconds: the longest an access token of tidepass lives. */
  readonly accessTokenTtl: number;
  readonly serverTime: Date;
  /** Milliseconds between two heartbeats when nothing else is sent. */
  readonly heartbeatInterval: number;
}

/** One ended session. Events are idempotent: the same end may arrive more than once. */
export interface Revoked {
  readonly sessionId: string;
  readonly userId: string;
  /** LOGOUT, REVOKED_BY_USER, OTHER_SESSIONS_REVOKED, REFRESH_TOKEN_REUSE, PASSWORD_CHANGED, EXPIRED, ...: open-ended. */
  readonly reason: string;
  readonly endedAt: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function parseObject(data: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function parseTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time;
}

export function parseHello(data: string): Hello | null {
  const o = parseObject(data);
  if (!o) return null;
  const serverTime = parseTime(o.serverTime);
  const { issuer, audience, accessTokenTtl, heartbeatInterval } = o;
  if (typeof issuer !== 'string' || typeof audience !== 'string' || !serverTime) return null;
  if (typeof accessTokenTtl !== 'number' || !Number.isFinite(accessTokenTtl) || accessTokenTtl <= 0) return null;
  if (typeof heartbeatInterval !== 'number' || !Number.isFinite(heartbeatInterval) || heartbeatInterval <= 0) return null;
  return { issuer, audience, accessTokenTtl, serverTime, heartbeatInterval };
}

export function parseRevoked(data: string): Revoked | null {
  const o = parseObject(data);
  if (!o) return null;
  const endedAt = parseTime(o.endedAt);
  if (!isUuid(o.sessionId) || !isUuid(o.userId) || typeof o.reason !== 'string' || !endedAt) return null;
  return { sessionId: o.sessionId, userId: o.userId, reason: o.reason, endedAt };
}

/**
 * An event id is `<endedAt in ms since the epoch>-<sessionId>`; its time is what resumption starts from.
 * Null for anything else (the client then keeps the id it had).
 */
export function eventIdTime(id: string): number | null {
  const match = /^(\d{1,16})-/.exec(id);
  return match ? Number(match[1]) : null;
}
