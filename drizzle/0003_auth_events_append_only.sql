-- auth_events is append-only, enforced by the database and not only by the code that writes it:
-- UPDATE, DELETE and TRUNCATE are refused. The one exception is the retention sweeper, which deletes
-- rows older than AUTH_EVENT_RETENTION inside a transaction that has first run
--   select set_config('tidepass.prune_auth_events', 'on', true)   -- true: this transaction only
-- This guards against application bugs and against an injected UPDATE/DELETE; it is not a barrier
-- against a database owner, who can drop the trigger.
CREATE OR REPLACE FUNCTION auth_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('tidepass.prune_auth_events', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'auth_events is append-only: % refused', TG_OP;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER auth_events_append_only BEFORE UPDATE OR DELETE ON auth_events
  FOR EACH ROW EXECUTE FUNCTION auth_events_append_only();
--> statement-breakpoint
CREATE TRIGGER auth_events_no_truncate BEFORE TRUNCATE ON auth_events
  FOR EACH STATEMENT EXECUTE FUNCTION auth_events_append_only();
