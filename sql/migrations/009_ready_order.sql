-- Migration 9: the scheduler's ready-step query reads the queue in its order from an index.
-- Ready steps are taken by job_priority (higher first) then jq_pk (SPEC §4). The priority is
-- the job's, so the query had to join every queued step to its job and sort them all before
-- its LIMIT: with 100,000 steps queued each poll took 75-550 ms and the drain ran at one poll
-- per ~48 steps. jobqueue now carries a copy of its job's priority, kept by triggers (the job
-- stays the one place to set it), and a partial index on the steps not started gives that
-- order directly: a poll reads about as many index entries as it returns.
ALTER TABLE jobqueue ADD COLUMN jq_priority integer NOT NULL DEFAULT 0;

UPDATE jobqueue q SET jq_priority = j.job_priority
  FROM job j
 WHERE j.job_pk = q.jq_job_fk AND q.jq_priority IS DISTINCT FROM j.job_priority;

CREATE INDEX jobqueue_ready_idx ON jobqueue (jq_priority DESC, jq_pk)
  WHERE jq_starttime IS NULL AND jq_endtime IS NULL;

-- A step takes its job's priority when queued (a value given in the INSERT is replaced) or
-- moved to another job.
CREATE FUNCTION jobqueue_take_priority() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  SELECT job_priority INTO NEW.jq_priority FROM job WHERE job_pk = NEW.jq_job_fk;
  NEW.jq_priority := coalesce(NEW.jq_priority, 0);
  RETURN NEW;
END
$fn$;

CREATE TRIGGER jobqueue_take_priority
  BEFORE INSERT OR UPDATE OF jq_job_fk, jq_priority ON jobqueue
  FOR EACH ROW EXECUTE FUNCTION jobqueue_take_priority();

-- A job's new priority reaches its steps (all of them: ended ones keep the job's too).
CREATE FUNCTION job_priority_to_steps() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE jobqueue SET jq_priority = NEW.job_priority
   WHERE jq_job_fk = NEW.job_pk AND jq_priority <> NEW.job_priority;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER job_priority_to_steps
  AFTER UPDATE OF job_priority ON job
  FOR EACH ROW WHEN (OLD.job_priority IS DISTINCT FROM NEW.job_priority)
  EXECUTE FUNCTION job_priority_to_steps();

INSERT INTO jobline_schema (version, name) VALUES (9, '009_ready_order');
