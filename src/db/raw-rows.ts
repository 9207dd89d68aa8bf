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
  };
}

/** Raw rows: postgres.js hands timestamps over as text, PGlite as Date. */
export function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(value);
}
