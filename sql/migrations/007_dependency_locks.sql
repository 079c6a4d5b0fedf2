-- Migration 7: the race between a failure and a new dependent is closed without deadlocks.
--
-- Migration 4 made a new dependency lock its step's prerequisites FOR SHARE, one row after the
-- other. A failure locks the failed step and then, through its trigger, its dependents, which
-- can be prerequisites of the new step too: step 9 waiting for 5 and for 7 (7 itself waiting
-- for 5) could hold 7 and wait for 5 while the failure of 5 held 5 and waited for 7, and
-- PostgreSQL aborted one of the two with "deadlock detected" (CI saw it in the dependency race
-- test).
--
-- Now both sides meet on transaction-scoped advisory locks, one per prerequisite (class 7428,
-- key jq_pk), instead of on the rows:
--   * a failure takes its step's lock EXCLUSIVE before it fails the dependents (so it waits
--     for every transaction that is adding a dependent to it, and its UPDATE then sees them);
--   * a new dependency or a re-opened step takes the locks of all its step's prerequisites
--     SHARED, all or none: when one is held by a failure that has not committed, it lets go of
--     the others, waits for that failure to end and tries again; then it reads the
--     prerequisites' state, which includes every failure that committed.
-- A transaction therefore never waits for a failure while holding a lock that the failure's
-- cascade may need; shared locks do not block each other, and no row is locked.

CREATE OR REPLACE FUNCTION jobline_fail_dependents() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(7428, NEW.jq_pk);
  UPDATE jobqueue c
     SET jq_endtime = now(), jq_end_bits = c.jq_end_bits | 2,
         jq_endtext = 'dependency failed', jq_schedinfo = NULL
    FROM jobdepends d
   WHERE d.jdep_jq_depends_fk = NEW.jq_pk AND c.jq_pk = d.jdep_jq_fk AND c.jq_endtime IS NULL;
  RETURN NULL;
END
$fn$;

-- Whether a prerequisite of step p_jq has failed, after taking the shared locks of all its
-- prerequisites (see the header). The locks are tried in a sub-block, which gives back those
-- it took when one is busy (advisory locks take no transaction id: the sub-block is cheap).
CREATE OR REPLACE FUNCTION jobline_prerequisite_failed(p_jq integer) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  v_busy integer;
  v_prereq integer;
BEGIN
  LOOP
    v_busy := NULL;
    BEGIN
      FOR v_prereq IN
        SELECT DISTINCT d.jdep_jq_depends_fk FROM jobdepends d WHERE d.jdep_jq_fk = p_jq
      LOOP
        IF NOT pg_try_advisory_xact_lock_shared(7428, v_prereq) THEN
          v_busy := v_prereq;
          RAISE SQLSTATE 'JL001';
        END IF;
      END LOOP;
    EXCEPTION WHEN SQLSTATE 'JL001' THEN
      NULL;
    END;
    EXIT WHEN v_busy IS NULL;
    -- Wait for the failure of v_busy to end, holding none of the locks, then try again.
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(7428, v_busy);
      RAISE SQLSTATE 'JL001';
    EXCEPTION WHEN SQLSTATE 'JL001' THEN
      NULL;
    END;
  END LOOP;
  RETURN EXISTS (
    SELECT 1 FROM jobdepends d JOIN jobqueue p ON p.jq_pk = d.jdep_jq_depends_fk
     WHERE d.jdep_jq_fk = p_jq AND p.jq_endtime IS NOT NULL AND (p.jq_end_bits & 2) <> 0);
END
$fn$;

INSERT INTO jobline_schema (version, name) VALUES (7, '007_dependency_locks');
