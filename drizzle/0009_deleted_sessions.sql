CREATE TABLE "deleted_sessions" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "deleted_sessions_deleted_at_idx" ON "deleted_sessions" USING btree ("deleted_at");--> statement-breakpoint
-- The announcement of 0005 reaches only the instances listening when the DELETE commits; one whose
-- LISTEN connection is down then reloads from the database when it is back, and the row is gone. So
-- the same live sessions are also written down here, in the same transaction, for that reload
-- (src/auth/revocations.ts) until the retention sweep deletes them a revocation window later.
-- One instant for both, so that a tombstone and its notification agree on when the session ended.
-- ON CONFLICT: a session id inserted again and deleted again ended at the later time.
CREATE OR REPLACE FUNCTION announce_deleted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deleted timestamptz := clock_timestamp();
BEGIN
  INSERT INTO deleted_sessions (session_id, user_id, deleted_at)
  SELECT id, user_id, deleted FROM gone
  WHERE ended_at IS NULL AND expires_at > now()
  ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
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
