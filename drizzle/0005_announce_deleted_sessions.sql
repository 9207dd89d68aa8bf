-- A live session deleted outright (an operator deleting a user, whose sessions go with it by
-- cascade, or deleting session rows) ends as surely as a revoked one: its access token must be
-- refused everywhere at once. Announce it on the revocation channel, in the payload format of
-- src/events/revocation-wire.ts, with reason ADMIN and "database" as the announcing instance.
-- Statement-level, in chunks of 40 events: a NOTIFY payload is limited to 8000 bytes.
-- Sessions already ended, or past their absolute end (the retention sweeper's rows), are not news.
CREATE OR REPLACE FUNCTION announce_deleted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'tidepass_session_revoked',
    json_build_object('i', 'database', 'e', json_agg(json_build_array(live.id, live.user_id, 'ADMIN', live.at)))::text
  )
  FROM (
    SELECT id, user_id, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS at,
      (row_number() OVER () - 1) / 40 AS chunk
    FROM gone
    WHERE ended_at IS NULL AND expires_at > now()
  ) live
  GROUP BY live.chunk;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_announce_deleted AFTER DELETE ON sessions
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION announce_deleted_sessions();
