-- A session ended by hand (UPDATE sessions SET ended_at = ...) ends as surely as a revoked one: announce
-- it on the revocation channel in the payload format of src/events/revocation-wire.ts, as 0005 does for
-- a deleted row, with "database" as the announcing instance, the row's reason if it is one of ours
-- (ADMIN otherwise), and its end as the time. The app's own connections announce every end they make
-- themselves (with the instance's id) and say so with tidepass.announces_ends = on, set when they
-- connect (src/db/client.ts): for them the WHEN clause is false and the function is never called.
-- A row trigger with WHEN rather than a statement one with transition tables: those cannot name a
-- column, and would be built for every touch of a session (each refresh) only to be thrown away.
CREATE OR REPLACE FUNCTION announce_ended_by_hand() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'tidepass_session_revoked',
    json_build_object('i', 'database', 'e', json_build_array(json_build_array(
      NEW.id,
      NEW.user_id,
      CASE WHEN NEW.end_reason IN ('LOGOUT', 'REVOKED_BY_USER', 'OTHER_SESSIONS_REVOKED', 'REFRESH_TOKEN_REUSE',
        'PASSWORD_CHANGED', 'SESSION_LIMIT', 'EXPIRED', 'ADMIN') THEN NEW.end_reason ELSE 'ADMIN' END,
      (extract(epoch FROM NEW.ended_at) * 1000)::bigint
    )))::text
  );
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_announce_ended_by_hand AFTER UPDATE OF ended_at ON sessions
  FOR EACH ROW
  WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
    AND current_setting('tidepass.announces_ends', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION announce_ended_by_hand();
--> statement-breakpoint
-- TRUNCATE fires no row or DELETE trigger: it would end every session silently, and leave no tombstone
-- for an instance's reload to find. Refused (a TRUNCATE of users, which cascades here, too); DELETE
-- FROM sessions does the same job and is announced.
CREATE OR REPLACE FUNCTION refuse_truncate_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'TRUNCATE of sessions is refused: it would end sessions without announcing it; use DELETE FROM sessions'
    USING ERRCODE = 'feature_not_supported';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_refuse_truncate BEFORE TRUNCATE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_sessions();
