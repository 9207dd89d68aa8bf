import type { RawQuery } from '../db/client.js';
import { sessionFromRawRow, toDate, type RawSessionRow } from '../db/raw-rows.js';
import type { sessions } from '../db/schema.js';
import type { User } from './users.js';
import { randomToken, sha256Hex } from './crypto.js';

type SessionRecord = typeof sessions.$inferSelect;

/**
 * Successful rotations as one statement, hence one round trip and its own transaction, for any
 * number of tokens at once: for each, lock the live session of the unspent token (FOR UPDATE, so that
 * a revocation committing first is seen, and one coming later waits for us), spend the token, touch
 * the session, insert the successor, append REFRESHED to the audit log, and read the user for the
 * answer. Each step feeds on the previous one's rows, so a token either gets all of it or nothing
 * written: of concurrent calls with one token exactly one gets a row back. Anything else (unknown,
 * spent, or a session that ended) gets no row, and the caller finds out which without having
 * written anything. A session has at most one unspent token (refresh_tokens_one_live_per_session_key),
 * so two tokens of one call never meet on one session; sessions are locked in id order, so two
 * calls in flight cannot deadlock on each other.
 *
 * Plain SQL text with $n parameters, sent as is: every refresh runs it, and building it through
 * drizzle each time cost the server more CPU than PostgreSQL spent executing it. Concurrent refreshes
 * share it (RotationBatcher): under load, PostgreSQL executes one statement for many rotations, and the
 * server sends one.
 */
const ROTATION = `
  with presented as (
    select * from unnest($3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[])
      as p(token_hash, user_agent, ip, successor_id, successor_hash)
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
    update refresh_tokens t set spent_at = $1::timestamptz from live
    where t.token_hash = live.token_hash and t.spent_at is null and t.session_id = live.id
    returning t.id, t.session_id, t.token_hash
  ), used as (
    update sessions s set last_used_at = $1::timestamptz, user_agent = p.user_agent, ip = p.ip
    from spent join presented p on p.token_hash = spent.token_hash
    where s.id = spent.session_id
    returning s.*, spent.id as spent_id, p.token_hash, p.successor_id, p.successor_hash
  ), issued as (
    insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
    select used.successor_id, used.id, used.spent_id, used.successor_hash, $1::timestamptz from used
    returning session_id
  ), audited as (
    insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
    select 'REFRESHED', used.user_id, used.id, used.ip, used.user_agent, $1::timestamptz from used
    returning session_id
  )
  select used.id, used.user_id, used.device_name, used.user_agent, used.ip, used.created_at, used.last_used_at,
    used.expires_at, used.ended_at, used.end_reason, used.token_hash, u.email, u.created_at as user_created_at
  from used
  join issued on issued.session_id = used.id
  join audited on audited.session_id = used.id
  join users u on u.id = used.user_id`;

export interface RotationRequest {
  readonly token: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

export type Rotated = { session: SessionRecord; user: User; refreshToken: string };

/**
 * Rotates every request at `now` in one statement; the answers are in the order of the requests,
 * null for each refused. A token presented twice is rotated once: the other copy is refused here
 * and found spent by the caller, as if it had come a moment later.
 */
export async function rotateInOneStatement(
  query: RawQuery,
  at: { now: Date; idleHorizon: Date },
  requests: readonly RotationRequest[],
): Promise<(Rotated | null)[]> {
  const hashes = requests.map((request) => sha256Hex(request.token));
  const firstOf = new Map<string, number>();
  hashes.forEach((hash, i) => firstOf.has(hash) || firstOf.set(hash, i));
  const taken = [...firstOf.values()];
  const successors = taken.map(() => randomToken(32));
  const rows = await query<RotatedRow>(ROTATION, [
    at.now.toISOString(),
    at.idleHorizon.toISOString(),
    taken.map((i) => hashes[i]!),
    taken.map((i) => requests[i]!.userAgent),
    taken.map((i) => requests[i]!.ip),
    taken.map(() => crypto.randomUUID()),
    successors.map((successor) => sha256Hex(successor)),
  ]);
  const byHash = new Map(rows.map((row) => [row.token_hash, row]));
  const successorOf = new Map(taken.map((i, n) => [hashes[i]!, successors[n]!]));
  return hashes.map((hash, i) => {
    const row = firstOf.get(hash) === i ? byHash.get(hash) : undefined;
    if (!row) return null;
    return {
      refreshToken: successorOf.get(hash)!,
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
