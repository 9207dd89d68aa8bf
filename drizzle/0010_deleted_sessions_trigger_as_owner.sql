-- 0009's trigger writes deleted_sessions, a table that only its owner (the role that migrates) may
-- write: an operator's role granted what its job needs (deleting users, whose sessions go by cascade,
-- or sessions) had every such DELETE fail with "permission denied for table deleted_sessions", where
-- 0005 let it through. The tombstones are the trigger's business, not the deleting role's: the
-- function runs as its owner. Its search_path is pinned to the schema the tables are in, pg_temp
-- last, so that a caller's own tables cannot stand in for ours. (A CREATE OR REPLACE of the function
-- drops both: it must say them again.)
DO $$
BEGIN
  EXECUTE format(
    'ALTER FUNCTION announce_deleted_sessions() SECURITY DEFINER SET search_path = %I, pg_temp',
    current_schema()
  );
END;
$$;
