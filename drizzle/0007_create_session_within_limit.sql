-- A login's new session in one call, hence one round trip and its own transaction, instead of four
-- statements (BEGIN, the lock, the inserts, COMMIT): the user's row is locked first, as every
-- transaction that changes a user's sessions does (src/auth/sessions.ts, lockUsers), and then, in a
-- fresh snapshot that sees what the previous holder committed, the session, the first refresh token
-- of its family and the audit event are inserted. Only while the user has fewer than p_max_sessions
-- other live sessions: otherwise nothing is written and no row returned, and the caller runs its
-- transaction, which also ends the least recently used sessions and announces their ends.
CREATE FUNCTION create_session_within_limit(
  p_session_id uuid, p_user_id uuid, p_device_name text, p_user_agent text, p_ip text,
  p_now timestamptz, p_expires_at timestamptz, p_idle_horizon timestamptz, p_max_sessions integer,
  p_token_id uuid, p_token_hash text, p_cause text
) RETURNS SETOF sessions LANGUAGE plpgsql AS $$
BEGIN
  -- NO KEY UPDATE, as lockUsers takes: it does not block the key-share locks of inserting sessions.
  PERFORM 1 FROM users WHERE id = p_user_id FOR NO KEY UPDATE;
  IF (
    SELECT count(*) FROM sessions s
    WHERE s.user_id = p_user_id AND s.ended_at IS NULL AND s.expires_at > p_now AND s.last_used_at > p_idle_horizon
  ) >= p_max_sessions THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH created AS (
    INSERT INTO sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at)
    VALUES (p_session_id, p_user_id, p_device_name, p_user_agent, p_ip, p_now, p_now, p_expires_at)
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
