-- EMAIL_CHANGED and ACCOUNT_DELETED join the reasons an end made by hand keeps (0011, 0015): where the
-- connection does not say it announces its ends (PGlite), this trigger announces them with their reason.
CREATE OR REPLACE FUNCTION announce_ended_by_hand() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'tidepass_session_revoked',
    json_build_object('i', 'database', 'e', json_build_array(json_build_array(
      NEW.id,
      NEW.user_id,
      CASE WHEN NEW.end_reason IN ('LOGOUT', 'REVOKED_BY_USER', 'OTHER_SESSIONS_REVOKED', 'REFRESH_TOKEN_REUSE',
        'PASSWORD_CHANGED', 'SESSION_LIMIT', 'EXPIRED', 'ADMIN', 'PASSWORD_RESET', 'EMAIL_CHANGED',
        'ACCOUNT_DELETED') THEN NEW.end_reason ELSE 'ADMIN' END,
      (extract(epoch FROM NEW.ended_at) * 1000)::bigint
    )))::text
  );
  RETURN NULL;
END;
$$;
