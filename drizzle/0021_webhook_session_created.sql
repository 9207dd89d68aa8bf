-- session.created webhooks (src/webhooks/events.ts): every new session, whichever way it was inserted
-- (the one-round-trip create_session_within_limit of 0007 or the transaction at the session limit),
-- queued by the insert itself and so in its transaction. The payload is the one events.ts documents;
-- timestamps as JavaScript's toISOString writes them.
CREATE OR REPLACE FUNCTION enqueue_session_created_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  event_id text := 'msg_' || replace(gen_random_uuid()::text, '-', '');
  at_text text := to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
BEGIN
  INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, payload, created_at, next_attempt_at, give_up_at)
  SELECT gen_random_uuid(), e.id, event_id, 'session.created',
    jsonb_build_object('type', 'session.created', 'timestamp', at_text, 'data', jsonb_build_object(
      'userId', NEW.user_id,
      'sessionId', NEW.id,
      'deviceName', NEW.device_name,
      'ip', NEW.ip,
      'expiresAt', to_char(NEW.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )),
    NEW.created_at, NEW.created_at, NEW.created_at + interval '1 day'
  FROM webhook_endpoints e
  WHERE 'session.created' = ANY (e.events);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_created_webhook AFTER INSERT ON sessions
  FOR EACH ROW EXECUTE FUNCTION enqueue_session_created_webhook();
