-- A session records how its user proved themselves (RFC 8176 amr values) and when (auth_time): the
-- access tokens carry both, and step-up checks the time. As 0013's function, with the methods.
DROP FUNCTION create_session_within_limit(uuid, uuid, text, text, text, timestamptz, timestamptz, timestamptz,
  integer, uuid, text, text, integer);
--> statement-breakpoint
CREATE FUNCTION create_session_within_limit(
  p_session_id uuid, p_user_id uuid, p_device_name text, p_user_agent text, p_ip text,
  p_now timestamptz, p_expires_at timestamptz, p_idle_horizon timestamptz, p_max_sessions integer,
  p_token_id uuid, p_token_hash text, p_cause text, p_password_version integer,
  p_authentication_methods text[]
) RETURNS SETOF sessions LANGUAGE plpgsql AS $$
DECLARE
  v_password_version integer;
BEGIN
  -- NO KEY UPDATE, as lockUsers takes: it does not block the key-share locks of inserting sessions.
  SELECT password_version INTO v_password_version FROM users WHERE id = p_user_id FOR NO KEY UPDATE;
  IF v_password_version IS DISTINCT FROM p_password_version THEN
    RETURN;
  END IF;
  IF (
    SELECT count(*) FROM sessions s
    WHERE s.user_id = p_user_id AND s.ended_at IS NULL AND s.expires_at > p_now AND s.last_used_at > p_idle_horizon
  ) >= p_max_sessions THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH created AS (
    INSERT INTO sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at,
      authentication_methods, authenticated_at)
    VALUES (p_session_id, p_user_id, p_device_name, p_user_agent, p_ip, p_now, p_now, p_expires_at,
      p_authentication_methods, p_now)
    RETURNING *
  ), issued AS (
    INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, created_at)
    SELECT p_token_id, created.id, NULL, p_token_hash, p_now FROM created
  ), audited AS (
    INSERT INTO auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
    SELECT p_cause, created.user_id, created.id, created.ip, created.user_agent, p_now FROM created
  )
  SELECT created.* FROM created;
END;
$$;
