import { sql } from 'drizzle-orm';
import { rowsOf, type Transaction } from './client.js';
import type { LiveWindow } from './live-window.js';
import { sessionFromRawRow, textArray, type RawSessionRow } from './raw-rows.js';
import type { sessions } from './schema.js';

export type SessionRecord = typeof sessions.$inferSelect;

/** A session to start, with the hash of the first token of its family. */
export interface NewSession {
  readonly userId: string;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly expiresAt: Date;
  readonly tokenHash: string;
  /** What the audit log calls it. */
  readonly cause: 'SIGNED_UP' | 'LOGIN_SUCCEEDED';
  /** Live sessions the user may keep; the least recently used beyond them end (SESSION_LIMIT). */
  readonly maxLive: number;
  /**
   * The users.password_version a login checked the password against: the session is created only if
   * it is still the user's under the lock of the user's row. Null when no password was checked.
   */
  readonly passwordVersion: number | null;
  /** RFC 8176 values of how the user proved themselves (pwd, otp, hwk, mfa); auth_time is now. */
  readonly authenticationMethods: readonly string[];
  /** Runs first in the same transaction (sign-up inserts the user there: no account without a session). */
  readonly alsoIn?: (tx: Transaction) => Promise<void>;
}

export /**
 * The session, the first token of its family, the audit event, and the user's other live sessions
 * beyond the limit, in one statement (each is a round trip plus the CPU to build it). The last read
 * cannot see the session being inserted (one snapshot per statement), hence `offset limit - 1`.
 */
async function insertSession(
  tx: Transaction,
  session: NewSession,
  window: LiveWindow,
): Promise<{ session: SessionRecord; beyondLimit: string[] }> {
  const sessionId = crypto.randomUUID();
  const now = window.now.toISOString();
  const [row] = rowsOf<NewSessionRow>(
    await tx.execute(sql`
      with created as (
        insert into sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at,
          authentication_methods, authenticated_at)
        values (${sessionId}::uuid, ${session.userId}::uuid, ${session.deviceName}, ${session.userAgent}, ${session.ip},
          ${now}::timestamptz, ${now}::timestamptz, ${session.expiresAt.toISOString()}::timestamptz,
          ${pgTextArray(session.authenticationMethods)}::text[], ${now}::timestamptz)
        returning *
      ), issued as (
        insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
        select ${crypto.randomUUID()}::uuid, created.id, null, ${session.tokenHash}, ${now}::timestamptz
        from created
        returning id
      ), audited as (
        insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
        select ${session.cause}, created.user_id, created.id, created.ip, created.user_agent, ${now}::timestamptz
        from created
        returning id
      )
      select created.*, array(
        select s.id from sessions s
        where s.user_id = ${session.userId}::uuid and s.id <> ${sessionId}::uuid and s.ended_at is null
          and s.expires_at > ${now}::timestamptz
          and s.last_used_at > ${window.idleHorizon.toISOString()}::timestamptz
        order by s.last_used_at desc, s.created_at desc
        offset ${session.maxLive - 1}
      )::text[] as beyond_limit
      from created join issued on true join audited on true`),
  );
  return { session: sessionFromRawRow(row!), beyondLimit: parsePgArray(row!.beyond_limit) };
}

interface NewSessionRow extends RawSessionRow {
  /** text[]: an array on PGlite, sometimes its literal ("{a,b}") on postgres.js. */
  beyond_limit: string[] | string;
}

/** A text[] of uuids as either driver returns it (uuids hold no commas, quotes or braces). */
const parsePgArray = textArray;

/** A text[] literal of plain words (amr values hold no commas, quotes or braces). */
function pgTextArray(words: readonly string[]): string {
  return `{${words.join(',')}}`;
}
