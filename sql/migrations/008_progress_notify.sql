-- Migration 8: a NOTIFY for a step's progress, on its own channel `jobline_progress` (payload:
-- the jq_pk), for the changes the live pages show that `jobline_jobqueue` (migration 2) does
-- not announce: its items done or known (jq_itemsprocessed, jq_itemsknown), its start
-- (jq_starttime) and its text (jq_endtext: Started, Paused, ...). jobline-web LISTENs on it and
-- sends the step to the live pages, so it need not read the running steps periodically. The
-- scheduler LISTENs only on `jobline_jobqueue` and is not woken by progress; it writes
-- jq_itemsprocessed at most once a second per step, which bounds these notifications. Like
-- every NOTIFY they are delivered at commit, and PostgreSQL folds identical ones of one
-- transaction into one.
CREATE FUNCTION jobqueue_progress_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('jobline_progress', NEW.jq_pk::text);
  RETURN NULL;
END
$fn$;

CREATE TRIGGER jobqueue_progress_notify
  AFTER UPDATE ON jobqueue
  FOR EACH ROW
  WHEN (OLD.jq_itemsprocessed IS DISTINCT FROM NEW.jq_itemsprocessed
     OR OLD.jq_itemsknown IS DISTINCT FROM NEW.jq_itemsknown
     OR OLD.jq_starttime IS DISTINCT FROM NEW.jq_starttime
     OR OLD.jq_endtext IS DISTINCT FROM NEW.jq_endtext)
  EXECUTE FUNCTION jobqueue_progress_notify();

INSERT INTO jobline_schema (version, name) VALUES (8, '008_progress_notify');
