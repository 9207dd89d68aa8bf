CREATE TABLE "throttle_counters" (
	"key" text PRIMARY KEY NOT NULL,
	"incarnation" bigint GENERATED ALWAYS AS IDENTITY (sequence name "throttle_counters_incarnation_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"head" bigint NOT NULL,
	"counts" integer[] NOT NULL,
	"expire" timestamp with time zone NOT NULL
);
--> statement-breakpoint
DROP TABLE "rate_limits" CASCADE;--> statement-breakpoint
CREATE INDEX "throttle_counters_expire_idx" ON "throttle_counters" USING btree ("expire");--> statement-breakpoint
-- Takes one point from each of the budgets named (a password check: its IP's and its account's), all
-- or none, and answers each budget's counts (oldest bucket first, ending at `head`). One call, one
-- round trip; the why is in src/auth/throttle.ts, which owns the constants: 11 buckets per row (a
-- window of 10 and the one being filled), p_buckets the taker's current bucket of each budget.
-- A function rather than one statement because the decision is joint: a budget may only be charged
-- if the other fits too, and a statement cannot read a row it has locked in an earlier part of itself
-- (its CTEs share one snapshot taken before the locks); each statement here takes a fresh snapshot.
CREATE FUNCTION throttle_take(p_keys text[], p_buckets bigint[], p_points integer[], p_bucket_ms bigint[])
RETURNS TABLE (key text, incarnation double precision, head double precision, counts integer[], taken boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  created text[];
BEGIN
  -- Missing rows are created and existing ones locked, in key order: takers of the same keys queue
  -- in one order and never deadlock. DO UPDATE ... WHERE false locks a row without writing it. A
  -- new row is created with its point (budgets are at least 1): it need not be written twice.
  WITH inserted AS (
    INSERT INTO throttle_counters AS c (key, head, counts, expire)
    SELECT w.key, w.bucket, array_fill(0, ARRAY[10]) || 1, to_timestamp((w.bucket + 11) * w.bucket_ms / 1000.0)
    FROM unnest(p_keys, p_buckets, p_bucket_ms) AS w(key, bucket, bucket_ms)
    ORDER BY w.key
    ON CONFLICT (key) DO UPDATE SET head = c.head WHERE false
    RETURNING c.key
  )
  SELECT coalesce(array_agg(inserted.key), '{}') INTO created FROM inserted;

  -- Under the locks, a fresh snapshot sees every point taken before. A row is moved forward to the
  -- taker's bucket (buckets that left the look-back drop off), never back: a taker whose clock is
  -- behind the last one's counts its point in the newer bucket, for longer rather than unseen.
  RETURN QUERY
  WITH shifted AS (
    SELECT c.key, c.incarnation, w.points, w.bucket_ms, moved.head, c.key = ANY (created) AS fresh,
      c.counts[moved.by + 1 : 11] || array_fill(0, ARRAY[moved.by]) AS counts
    FROM unnest(p_keys, p_buckets, p_points, p_bucket_ms) AS w(key, bucket, points, bucket_ms)
    JOIN throttle_counters c ON c.key = w.key
    CROSS JOIN LATERAL (
      SELECT greatest(c.head, w.bucket) AS head, least(greatest(c.head, w.bucket) - c.head, 11)::integer AS by
    ) moved
  ), decision AS (
    -- A new row holds its point already; an existing one is counted with it.
    SELECT bool_and((SELECT sum(n) FROM unnest(s.counts) n) + CASE WHEN s.fresh THEN 0 ELSE 1 END <= s.points) AS fits
    FROM shifted s
  ), updated AS (
    UPDATE throttle_counters c
    SET head = s.head, counts = s.counts[1:10] || (s.counts[11] + 1),
      expire = to_timestamp((s.head + 11) * s.bucket_ms / 1000.0)
    FROM shifted s, decision d
    WHERE d.fits AND c.key = s.key AND NOT s.fresh
    RETURNING c.key, c.counts
  ), removed AS (
    -- A refused attempt leaves nothing behind, not even empty rows for an attacker to multiply.
    DELETE FROM throttle_counters c USING decision d WHERE NOT d.fits AND c.key = ANY (created)
  )
  SELECT s.key, s.incarnation::double precision, s.head::double precision,
    CASE WHEN d.fits THEN coalesce(u.counts, s.counts) WHEN s.fresh THEN array_fill(0, ARRAY[11]) ELSE s.counts END,
    d.fits
  FROM shifted s CROSS JOIN decision d LEFT JOIN updated u ON u.key = s.key;
END;
$$;
