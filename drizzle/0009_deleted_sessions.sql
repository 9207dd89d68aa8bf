CREATE TABLE "deleted_sessions" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"end_reason" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "deleted_sessions_ended_at_idx" ON "deleted_sessions" USING btree ("ended_at");--> statement-breakpoint
-- The announcement of 0005 reaches only the instances listening when the DELETE commits; one whose
-- LISTEN connection is down then, or that starts later, reloads from the database, and the row is
-- gone. So every deleted session that may still have an unexpired access token is written down here,
-- in the same transaction, for that reload (src/auth/revocations.ts), until the retention sweep deletes
-- it a revocation window after its end. That is a live one (ended now, ADMIN, as announced: one instant
-- for both), and also one that had ended already: an instance deaf since before that end never heard of
-- it either. No access token outlives its session's absolute end (src/auth/access-tokens.ts; but for
-- the 30 s of clock tolerance), so `expires_at > now()` is the whole test; the database does not know
-- the window, so a session that ended long ago gets a tombstone the next sweep deletes (none from the
-- retention sweep with the default TTLs: a session ended SESSION_RETENTION ago is past its end).
-- ON CONFLICT: a session id inserted again and deleted again ended at the later time.
CREATE OR REPLACE FUNCTION announce_deleted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deleted timestamptz := clock_timestamp();
BEGIN
  INSERT INTO deleted_sessions (session_id, user_id, ended_at, end_reason)
  SELECT id, user_id, coalesce(ended_at, deleted), CASE WHEN ended_at IS NULL THEN 'ADMIN' ELSE coalesce(end_reason, 'ADMIN') END
  FROM gone
  WHERE expires_at > now()
  ON CONFLICT (session_id) DO UPDATE
    SET user_id = excluded.user_id, ended_at = excluded.ended_at, end_reason = excluded.end_reason;
  PERFORM pg_notify(
    'tidepass_session_revoked',
    json_build_object('i', 'database', 'e', json_agg(json_build_array(live.id, live.user_id, 'ADMIN', live.at)))::text
  )
  FROM (
    SELECT id, user_id, (extract(epoch FROM deleted) * 1000)::bigint AS at,
      (row_number() OVER () - 1) / 40 AS chunk
    FROM gone
    WHERE ended_at IS NULL AND expires_at > now()
  ) live
  GROUP BY live.chunk;
  RETURN NULL;
END;
$$;
