import type { RawQuery } from '../db/client.js';
import { sessionFromRawRow, toDate, type RawSessionRow } from '../db/raw-rows.js';
import type { sessions } from '../db/schema.js';
import type { User } from './users.js';
import { randomToken, sha256Hex } from './crypto.js';

type SessionRecord = typeof sessions.$inferSelect;

export interface RotationInput {
  readonly token: string;
  readonly now: Date;
  /** A session whose lastUsedAt is at or before this has reached its idle end. */
  readonly idleHorizon: Date;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/**
 * The whole successful rotation as one statement, hence one round trip and its own transaction:
 * lock the live session of the unspent token (FOR UPDATE, so that a revocation committing first
 * is seen, and one coming later waits for us), spend the token, touch the session, insert the
 * successor, append REFRESHED to the audit log, and read the user for the answer. Each step feeds on the previous one's rows, so the
 * statement either does all of it or writes nothing: of concurrent calls with one token exactly one
 * gets a row back. Anything else (unknown, spent, or a session that ended) returns null, and the
 * caller finds out which without having written anything.
 *
 * Plain SQL text with $n parameters, sent as is: every refresh runs it, and building it through
 * drizzle each time cost the server more CPU than PostgreSQL spent executing it.
 */
const ROTATION = `
  with live as (
    select s.id from sessions s join refresh_tokens t on t.session_id = s.id
    where t.token_hash = $2 and t.spent_at is null
      and s.ended_at is null and s.expires_at > $1::timestamptz
      and s.last_used_at > $3::timestamptz
    for update of s
  ), spent as (
    update refresh_tokens t set spent_at = $1::timestamptz from live
    where t.token_hash = $2 and t.spent_at is null and t.session_id = live.id
    returning t.id, t.session_id
  ), used as (
    update sessions s set last_used_at = $1::timestamptz, user_agent = $4, ip = $5
    from spent where s.id = spent.session_id
    returning s.*
  ), issued as (
    insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
    select $6::uuid, spent.session_id, spent.id, $7, $1::timestamptz
    from spent
    returning id
  ), audited as (
    insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
    select 'REFRESHED', used.user_id, used.id, used.ip, used.user_agent, $1::timestamptz from used
    returning id
  )
  select used.id, used.user_id, used.device_name, used.user_agent, used.ip, used.created_at, used.last_used_at,
    used.expires_at, used.ended_at, used.end_reason, u.email, u.created_at as user_created_at
  from used join issued on true join audited on true join users u on u.id = used.user_id`;

export async function rotateInOneStatement(
  query: RawQuery,
  input: RotationInput,
): Promise<{ session: SessionRecord; user: User; refreshToken: string } | null> {
  const successor = randomToken(32);
  const [row] = await query<RotatedRow>(ROTATION, [
    input.now.toISOString(),
    sha256Hex(input.token),
    input.idleHorizon.toISOString(),
    input.userAgent,
    input.ip,
    crypto.randomUUID(),
    sha256Hex(successor),
  ]);
  if (!row) return null;
  return {
    refreshToken: successor,
    session: sessionFromRawRow(row),
    user: { id: row.user_id, email: row.email, createdAt: toDate(row.user_created_at) },
  };
}

interface RotatedRow extends RawSessionRow {
  email: string;
  user_created_at: string | Date;
}
