-- Migration 11: one AFTER UPDATE trigger on jobqueue instead of three. Migrations 2, 4 (7) and
-- 8 each added an AFTER UPDATE trigger with a WHEN clause: jobqueue_fail_dependents,
-- jobqueue_notify_update and jobqueue_progress_notify. PostgreSQL reads a trigger's WHEN clause
-- from its stored text and compiles it again for every statement that updates the table
-- (stringToNode, then ExecPrepareQual, per ResultRelInfo), so each UPDATE of a step paid for
-- three of them even when one fires. jobqueue_updated() tests the same three conditions, in
-- the same order, inside one PL/pgSQL function, whose expressions are compiled once per
-- session. What each part does is unchanged: the failure cascade (migration 7's lock, then the
-- dependents), the wake-up on jobline_jobqueue, the progress on jobline_progress. The
-- scheduler's start and end UPDATEs of a step executed in 42-44 us each before, 27-36 us after
-- (pg_stat_statements, pgbench on a private cluster; docs/database.md). The new trigger has no
-- WHEN: one that lets through only changes of the six columns tested (a row IS DISTINCT FROM)
-- cost ~6 us a statement (33 us), and every frequent UPDATE of a step changes one of them
-- anyway (start, end, items, pause); a bulk UPDATE of other columns now calls the function for
-- each row (100,000 rows of jq_schedinfo: within ~10 %, inside the noise of that measure).
-- The BEFORE trigger jobqueue_reopen_check keeps its WHEN (it must change NEW, and a BEFORE
-- trigger without one would call PL/pgSQL for every UPDATE).
CREATE FUNCTION jobqueue_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- A step ended failed: its open dependents fail, and theirs (docs/database.md#dependencies).
  IF NEW.jq_endtime IS NOT NULL AND (NEW.jq_end_bits & 2) <> 0
     AND (OLD.jq_endtime IS NULL OR (OLD.jq_end_bits & 2) = 0) THEN
    PERFORM pg_advisory_xact_lock(7428, NEW.jq_pk);
    UPDATE jobqueue c
       SET jq_endtime = now(), jq_end_bits = c.jq_end_bits | 2,
           jq_endtext = 'dependency failed', jq_schedinfo = NULL
      FROM jobdepends d
     WHERE d.jdep_jq_depends_fk = NEW.jq_pk AND c.jq_pk = d.jdep_jq_fk AND c.jq_endtime IS NULL;
  END IF;
  -- Re-opened, restarted or ended: the scheduler wakes.
  IF (OLD.jq_endtime IS NOT NULL AND NEW.jq_endtime IS NULL)
     OR (OLD.jq_starttime IS NOT NULL AND NEW.jq_starttime IS NULL)
     OR (OLD.jq_endtime IS NULL AND NEW.jq_endtime IS NOT NULL)
     OR (NEW.jq_endtext = 'Restarted' AND OLD.jq_endtext IS DISTINCT FROM 'Restarted') THEN
    PERFORM pg_notify('jobline_jobqueue', NEW.jq_pk::text);
  END IF;
  -- What the live pages show of the step changed.
  IF OLD.jq_itemsprocessed IS DISTINCT FROM NEW.jq_itemsprocessed
     OR OLD.jq_itemsknown IS DISTINCT FROM NEW.jq_itemsknown
     OR OLD.jq_starttime IS DISTINCT FROM NEW.jq_starttime
     OR OLD.jq_endtext IS DISTINCT FROM NEW.jq_endtext THEN
    PERFORM pg_notify('jobline_progress', NEW.jq_pk::text);
  END IF;
  RETURN NULL;
END
$fn$;

DROP TRIGGER jobqueue_fail_dependents ON jobqueue;
DROP TRIGGER jobqueue_notify_update ON jobqueue;
DROP TRIGGER jobqueue_progress_notify ON jobqueue;
DROP FUNCTION jobline_fail_dependents();
DROP FUNCTION jobqueue_progress_notify();

CREATE TRIGGER jobqueue_updated
  AFTER UPDATE ON jobqueue
  FOR EACH ROW EXECUTE FUNCTION jobqueue_updated();

INSERT INTO jobline_schema (version, name) VALUES (11, '011_one_update_trigger');
