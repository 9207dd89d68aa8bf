import type { sessions } from './schema.js';

/** A sessions row as raw SQL returns it (the hot statements that bypass drizzle). */
export interface RawSessionRow {
  id: string;
  user_id: string;
  device_name: string | null;
  user_agent: string | null;
  ip: string | null;
  created_at: string | Date;
  last_used_at: string | Date;
  expires_at: string | Date;
  ended_at: string | Date | null;
  end_reason: string | null;
  /** text[]: an array on PGlite, sometimes its literal ("{pwd,otp}") on postgres.js. */
  authentication_methods: string[] | string;
  authenticated_at: string | Date | null;
}

export function sessionFromRawRow(row: RawSessionRow): typeof sessions.$inferSelect {
  return {
    id: row.id,
    userId: row.user_id,
    deviceName: row.device_name,
    userAgent: row.user_agent,
    ip: row.ip,
    createdAt: toDate(row.created_at),
    lastUsedAt: toDate(row.last_used_at),
    expiresAt: toDate(row.expires_at),
    endedAt: row.ended_at === null ? null : toDate(row.ended_at),
    endReason: row.end_reason,
    authenticationMethods: textArray(row.authentication_methods),
    authenticatedAt: row.authenticated_at === null ? null : toDate(row.authenticated_at),
  };
}

/** Raw rows: postgres.js hands timestamps over as text, PGlite as Date. */
export function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

/** A text[] of plain words (no commas, quotes or braces) as either driver returns it. */
export function textArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.slice(1, -1);
  return inner === '' ? [] : inner.split(',');
}
