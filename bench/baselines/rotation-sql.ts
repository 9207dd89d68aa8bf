import { createHash, randomBytes } from 'node:crypto';
import type { DirectSql } from '../lib/database.js';

/**
 * The cheapest correct form of one refresh-token rotation, as one statement (a transaction of its
 * own): lock the live session of an unspent token, spend the token, touch the session, insert the
 * successor, append REFRESHED to the audit log (the product must log every rotation in the
 * transaction that does it), and read the user for the answer. Correct means: of concurrent rotations with one
 * token exactly one succeeds; none succeeds for an ended or expired session, nor when a concurrent
 * revocation commits first; and a failure writes nothing.
 */
export const ROTATION_SQL = `
with live as (
  select s.id from sessions s join refresh_tokens t on t.session_id = s.id
  where t.token_hash = $2 and t.spent_at is null
    and s.ended_at is null and s.expires_at > $1::timestamptz and s.last_used_at > $3::timestamptz
  for update of s
), spent as (
  update refresh_tokens t set spent_at = $1::timestamptz from live
  where t.token_hash = $2 and t.spent_at is null and t.session_id = live.id
  returning t.id, t.session_id
), used as (
  update sessions s set last_used_at = $1::timestamptz, user_agent = $4, ip = $5 from spent
  where s.id = spent.session_id
  returning s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.ip, s.user_agent
), issued as (
  insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
  select $6::uuid, spent.session_id, spent.id, $7, $1::timestamptz from spent
  returning id
), audited as (
  insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
  select 'REFRESHED', used.user_id, used.id, used.ip, used.user_agent, $1::timestamptz from used
  returning id
)
select used.id, used.user_id, used.created_at, used.last_used_at, used.expires_at, u.email, u.created_at as user_created_at
from used join issued on true join audited on true join users u on u.id = used.user_id`;

const IDLE_TIMEOUT_MS = 604_800_000;

/** Rotates `token` directly; returns the successor, or null when the rotation was refused. */
export async function rotateDirectly(sql: DirectSql, token: string): Promise<string | null> {
  const now = new Date();
  const successor = randomBytes(32).toString('base64url');
  const rows = await sql.query(ROTATION_SQL, [
    now.toISOString(),
    sha256Hex(token),
    new Date(now.getTime() - IDLE_TIMEOUT_MS).toISOString(),
    'tidepass-bench',
    '127.0.0.1',
    crypto.randomUUID(),
    sha256Hex(successor),
  ]);
  return rows.length === 1 ? successor : null;
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
