import type { RawQuery } from './client.js';
import type { LiveWindow } from './live-window.js';
import { sessionFromRawRow, toDate, type RawSessionRow } from './raw-rows.js';
import type { sessions } from './schema.js';

/**
 * Rotations as one statement (one round trip, its own transaction) for any number of tokens: for
 * each, lock the live session of the unspent token (FOR UPDATE: a revocation committing first is
 * seen, a later one waits), spend the token, touch the session, insert the successor, audit
 * REFRESHED and read the user. Spending a token clears its sealed copy (it is no longer needed). Each step feeds on the previous one's rows, so a token gets all of it
 * or nothing: of concurrent calls with one token exactly one gets a row. A session has one unspent
 * token at most (refresh_tokens_one_live_per_session_key), so two tokens of one call never meet on
 * one session; sessions are locked in id order, so two calls in flight cannot deadlock. Plain SQL text: building it through drizzle on every
 * refresh cost more CPU than PostgreSQL spent executing it.
 */
const ROTATION = `
  with presented as (
    select * from unnest($3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[])
      as p(token_hash, user_agent, ip, successor_id, successor_hash, sealed_successor)
  ), live as (
    select s.id, p.token_hash from presented p
    join refresh_tokens t on t.token_hash = p.token_hash
    join sessions s on s.id = t.session_id
    where t.spent_at is null
      and s.ended_at is null and s.expires_at > $1::timestamptz
      and s.last_used_at > $2::timestamptz
    order by s.id
    for update of s
  ), spent as (
    update refresh_tokens t set spent_at = $1::timestamptz, sealed_for_parent = null from live
    where t.token_hash = live.token_hash and t.spent_at is null and t.session_id = live.id
    returning t.id, t.session_id, t.token_hash
  ), used as (
    update sessions s set last_used_at = $1::timestamptz, user_agent = p.user_agent, ip = p.ip
    from spent join presented p on p.token_hash = spent.token_hash
    where s.id = spent.session_id
    returning s.*, spent.id as spent_id, p.token_hash, p.successor_id, p.successor_hash, p.sealed_successor
  ), issued as (
    insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at, sealed_for_parent)
    select used.successor_id, used.id, used.spent_id, used.successor_hash, $1::timestamptz, used.sealed_successor from used
    returning session_id
  ), audited as (
    insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
    select 'REFRESHED', used.user_id, used.id, used.ip, used.user_agent, $1::timestamptz from used
    returning session_id
  )
  select used.id, used.user_id, used.device_name, used.user_agent, used.ip, used.created_at, used.last_used_at,
    used.expires_at, used.ended_at, used.end_reason, used.authentication_methods, used.authenticated_at, used.token_hash, u.email, u.created_at as user_created_at
  from used
  join issued on issued.session_id = used.id
  join audited on audited.session_id = used.id
  join users u on u.id = used.user_id`;

/**
 * A presented token and its successor, by their hashes, and the successor sealed for the presented
 * token's holder: the raw secrets never reach the store.
 */
export interface RotationRequest {
  readonly tokenHash: string;
  readonly successorHash: string;
  readonly sealedSuccessor: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

export interface Rotated {
  readonly session: typeof sessions.$inferSelect;
  readonly user: { readonly id: string; readonly email: string; readonly createdAt: Date };
}

/**
 * Rotates every request in one statement; the answers are in the order of the requests, null for
 * each refused. A token presented twice is rotated once: the other copy is refused here and found
 * spent by the caller, as if it had come a moment later.
 */
export async function rotateInOneStatement(
  query: RawQuery,
  window: LiveWindow,
  requests: readonly RotationRequest[],
): Promise<(Rotated | null)[]> {
  const firstOf = new Map<string, number>();
  requests.forEach((request, i) => firstOf.has(request.tokenHash) || firstOf.set(request.tokenHash, i));
  const taken = [...firstOf.values()].map((i) => requests[i]!);
  const rows = await query<RotatedRow>(ROTATION, [
    window.now.toISOString(),
    window.idleHorizon.toISOString(),
    taken.map((request) => request.tokenHash),
    taken.map((request) => request.userAgent),
    taken.map((request) => request.ip),
    taken.map(() => crypto.randomUUID()),
    taken.map((request) => request.successorHash),
    taken.map((request) => request.sealedSuccessor),
  ]);
  const byHash = new Map(rows.map((row) => [row.token_hash, row]));
  return requests.map((request, i) => {
    const row = firstOf.get(request.tokenHash) === i ? byHash.get(request.tokenHash) : undefined;
    if (!row) return null;
    return {
      session: sessionFromRawRow(row),
      user: { id: row.user_id, email: row.email, createdAt: toDate(row.user_created_at) },
    };
  });
}

interface RotatedRow extends RawSessionRow {
  token_hash: string;
  email: string;
  user_created_at: string | Date;
}
