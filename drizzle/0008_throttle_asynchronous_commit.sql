-- The throttle's writes commit asynchronously: COMMIT returns once the commit record is in the WAL
-- buffers, without waiting for its flush to disk (at most about three wal_writer_delay later).
-- Every login takes a point and gives one back, and all logins from one address lock that address's
-- row: holding it through a WAL flush serialised them on the disk (16 concurrent takes of one
-- address: 1.8 -> 1.2 ms of PostgreSQL CPU each, 581 -> 1,237 takes/s). The price: a crash of
-- PostgreSQL itself (not of tidepass) can forget the points of the last fraction of a second,
-- i.e. let an attacker who can crash the database retry a few guesses; a counter kept in memory or
-- in Redis, as rate limiters usually are, forgets all of them. Any later synchronous commit (every
-- session created) flushes the WAL before it, throttle points included, so a crash never keeps a
-- session while forgetting the take that preceded it.
--
-- set_config(..., true) lasts until the end of the caller's transaction, here the statement's own:
-- a function's own SET clause would be undone when it returns, before the commit.
ALTER FUNCTION throttle_take(text[], bigint[], integer[], bigint[]) RENAME TO throttle_take_durably;
--> statement-breakpoint
CREATE FUNCTION throttle_take(p_keys text[], p_buckets bigint[], p_points integer[], p_bucket_ms bigint[])
RETURNS TABLE (key text, incarnation double precision, head double precision, counts integer[], taken boolean)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN QUERY SELECT * FROM throttle_take_durably(p_keys, p_buckets, p_points, p_bucket_ms);
END;
$$;
--> statement-breakpoint
-- Gives points back to the rows they were taken from (p_keys, p_incarnations, p_buckets: not to a
-- later row of a cleared key, whose points are others') and forgets every point of p_cleared; the
-- why of each part is in src/auth/throttle.ts (giveBack). A point whose bucket has left the row's
-- look-back no longer counts and is not given back; nor is one of a bucket already at 0.
--
-- Every row is locked first, in key order, as throttle_take locks them: otherwise the UPDATE (the
-- address's row) would lock before the DELETE (the account's, run at the statement's end), the
-- reverse of a concurrent take of the same account, which holds the account's row and waits for
-- the address's: a deadlock, which PostgreSQL breaks by failing one of the two logins. Each row
-- changed below is joined with `locked`, so it was locked there (in order) before anything else
-- here asks for it, whatever plan PostgreSQL picks. 11: the buckets per row (throttle_take's too).
CREATE FUNCTION throttle_give_back(p_keys text[], p_incarnations bigint[], p_buckets bigint[], p_cleared text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  WITH locked AS (
    SELECT c.key FROM throttle_counters c WHERE c.key = ANY (p_keys || p_cleared) ORDER BY c.key FOR UPDATE
  ), cleared AS (
    DELETE FROM throttle_counters c USING locked l WHERE c.key = l.key AND c.key = ANY (p_cleared)
  )
  UPDATE throttle_counters c
  SET counts[11 - least(c.head - p.bucket, 11)::integer] = c.counts[11 - least(c.head - p.bucket, 11)::integer] - 1
  FROM unnest(p_keys, p_incarnations, p_buckets) AS p(key, incarnation, bucket) JOIN locked l ON l.key = p.key
  WHERE c.key = p.key AND c.incarnation = p.incarnation
    AND c.counts[11 - least(c.head - p.bucket, 11)::integer] > 0;
END;
$$;
