-- Migration 2: queueing functions and the scheduler's wake-up NOTIFY (SPEC §4).

-- queue_job: a new job (a stream of steps); returns its job_pk.
CREATE FUNCTION queue_job(p_name text, p_upload integer DEFAULT NULL,
                          p_priority integer DEFAULT 0, p_user integer DEFAULT NULL,
                          p_group integer DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_job integer;
BEGIN
  IF p_upload IS NOT NULL AND NOT EXISTS (SELECT 1 FROM upload WHERE upload_pk = p_upload) THEN
    RAISE EXCEPTION 'queue_job: upload % does not exist', p_upload
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  INSERT INTO job (job_name, job_upload_fk, job_priority, job_user_fk, job_group_fk)
  VALUES (p_name, p_upload, coalesce(p_priority, 0), p_user, p_group)
  RETURNING job_pk INTO v_job;
  RETURN v_job;
END
$fn$;

-- queue_step: a step of job p_job run by agent p_type with data p_args, waiting for the steps
-- in p_depends; returns its jq_pk. All or nothing: a missing job or dependency raises an
-- error naming it and inserts nothing.
CREATE FUNCTION queue_step(p_job integer, p_type text, p_args text DEFAULT NULL,
                           p_depends integer[] DEFAULT '{}', p_runonpfile text DEFAULT NULL,
                           p_host text DEFAULT NULL, p_cmd_args text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_jq integer;
  v_missing integer;
BEGIN
  IF p_type IS NULL OR p_type = '' THEN
    RAISE EXCEPTION 'queue_step: the step type (agent name) is empty'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_job IS NULL OR NOT EXISTS (SELECT 1 FROM job WHERE job_pk = p_job) THEN
    RAISE EXCEPTION 'queue_step: job % does not exist', coalesce(p_job::text, 'NULL')
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF array_position(p_depends, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'queue_step: a dependency of the step is NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT d INTO v_missing
    FROM unnest(coalesce(p_depends, '{}')) AS d
   WHERE NOT EXISTS (SELECT 1 FROM jobqueue WHERE jq_pk = d)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'queue_step: dependency jq_pk % does not exist', v_missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  INSERT INTO jobqueue (jq_job_fk, jq_type, jq_args, jq_runonpfile, jq_host, jq_cmd_args)
  VALUES (p_job, p_type, p_args, nullif(p_runonpfile, ''), nullif(p_host, ''), p_cmd_args)
  RETURNING jq_pk INTO v_jq;
  INSERT INTO jobdepends (jdep_jq_fk, jdep_jq_depends_fk)
  SELECT DISTINCT v_jq, d FROM unnest(coalesce(p_depends, '{}')) AS d;
  RETURN v_jq;
END
$fn$;

-- Wakes the scheduler (LISTEN jobline_jobqueue; payload: the jq_pk) when a step may have
-- become ready: a new step, a re-opened step, or an ended step (its dependents).
-- Notifications are delivered at commit, so a step's jobdepends rows inserted in the same
-- transaction are visible by then.
CREATE FUNCTION jobqueue_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('jobline_jobqueue', NEW.jq_pk::text);
  RETURN NULL;
END
$fn$;

CREATE TRIGGER jobqueue_notify_insert
  AFTER INSERT ON jobqueue
  FOR EACH ROW EXECUTE FUNCTION jobqueue_notify();

CREATE TRIGGER jobqueue_notify_update
  AFTER UPDATE ON jobqueue
  FOR EACH ROW
  WHEN ((OLD.jq_endtime IS NOT NULL AND NEW.jq_endtime IS NULL)
     OR (OLD.jq_starttime IS NOT NULL AND NEW.jq_starttime IS NULL)
     OR (OLD.jq_endtime IS NULL AND NEW.jq_endtime IS NOT NULL)
     OR (NEW.jq_endtext = 'Restarted' AND OLD.jq_endtext IS DISTINCT FROM 'Restarted'))
  EXECUTE FUNCTION jobqueue_notify();

INSERT INTO jobline_schema (version, name) VALUES (2, '002_queueing');
