-- Migration 4: dependencies resolved in the database, by a rule that cannot race (SPEC §3, §4).
-- Whenever a step may become ready or blocked, the database itself decides, in the same
-- transaction that made the change:
--   * a step that ends failed fails its open dependents ('dependency failed'), and theirs, at
--     once (the trigger on jobqueue fires again for each of them);
--   * a dependency added on a prerequisite that has already failed fails the dependent at once;
--   * a step re-opened while one of its prerequisites has failed stays failed;
--   * a dependency that closes a cycle fails every open step of the cycle, naming it
--     ('dependency cycle: 5 -> 6 -> 5', each step waiting for the next).
-- Races: the dependency and re-open triggers lock the prerequisite rows FOR SHARE, so a
-- concurrent UPDATE that fails a prerequisite either commits first (and the lock then sees
-- the failure) or waits for this transaction (and its own trigger then sees the new
-- dependent). Cycle checks are serialised by a transaction-scoped advisory lock so that two
-- transactions cannot each add half of a cycle unseen.

-- Fails the open dependents of a step that has just failed.
CREATE FUNCTION jobline_fail_dependents() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE jobqueue c
     SET jq_endtime = now(), jq_end_bits = c.jq_end_bits | 2,
         jq_endtext = 'dependency failed', jq_schedinfo = NULL
    FROM jobdepends d
   WHERE d.jdep_jq_depends_fk = NEW.jq_pk AND c.jq_pk = d.jdep_jq_fk AND c.jq_endtime IS NULL;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER jobqueue_fail_dependents
  AFTER UPDATE ON jobqueue
  FOR EACH ROW
  WHEN (NEW.jq_endtime IS NOT NULL AND (NEW.jq_end_bits & 2) <> 0
        AND (OLD.jq_endtime IS NULL OR (OLD.jq_end_bits & 2) = 0))
  EXECUTE FUNCTION jobline_fail_dependents();

-- Whether a prerequisite of step p_jq has failed; locks the prerequisites against a
-- concurrent failure (see the header).
CREATE FUNCTION jobline_prerequisite_failed(p_jq integer) RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_failed boolean := false;
  v_row record;
BEGIN
  FOR v_row IN
    SELECT p.jq_endtime, p.jq_end_bits FROM jobqueue p
      JOIN jobdepends d ON d.jdep_jq_depends_fk = p.jq_pk
     WHERE d.jdep_jq_fk = p_jq
       FOR SHARE OF p
  LOOP
    v_failed := v_failed OR (v_row.jq_endtime IS NOT NULL AND (v_row.jq_end_bits & 2) <> 0);
  END LOOP;
  RETURN v_failed;
END
$fn$;

-- A re-opened step (jq_endtime cleared) whose prerequisite has failed stays failed.
CREATE FUNCTION jobline_reopen_check() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF jobline_prerequisite_failed(NEW.jq_pk) THEN
    NEW.jq_endtime := now();
    NEW.jq_end_bits := NEW.jq_end_bits | 2;
    NEW.jq_endtext := 'dependency failed';
    NEW.jq_schedinfo := NULL;
  END IF;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER jobqueue_reopen_check
  BEFORE UPDATE ON jobqueue
  FOR EACH ROW
  WHEN (OLD.jq_endtime IS NOT NULL AND NEW.jq_endtime IS NULL)
  EXECUTE FUNCTION jobline_reopen_check();

-- The cycle that the dependency p_step -> p_prereq closes, as jq_pks from p_step back to
-- p_step ('{5,6,5}'), or NULL when it closes none: a breadth-first walk from p_prereq along
-- "waits for", each step visited once, so the shortest cycle is found in time linear in the
-- prerequisites reached.
CREATE FUNCTION jobline_dependency_cycle(p_step integer, p_prereq integer)
RETURNS integer[] LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_frontier integer[] := ARRAY[p_prereq];
  v_seen integer[] := ARRAY[p_prereq];
  v_parent jsonb := '{}';
  v_next integer[];
  v_edges jsonb;
  v_path integer[];
  v_at integer;
BEGIN
  IF p_step = p_prereq THEN
    RETURN ARRAY[p_step, p_step];
  END IF;
  WHILE cardinality(v_frontier) > 0 LOOP
    SELECT coalesce(array_agg(s.c), '{}'), coalesce(jsonb_object_agg(s.c, s.p), '{}')
      INTO v_next, v_edges
      FROM (SELECT DISTINCT ON (d.jdep_jq_depends_fk) d.jdep_jq_depends_fk AS c, d.jdep_jq_fk AS p
              FROM jobdepends d
             WHERE d.jdep_jq_fk = ANY(v_frontier) AND NOT (d.jdep_jq_depends_fk = ANY(v_seen))
             ORDER BY d.jdep_jq_depends_fk, d.jdep_jq_fk) s;
    v_parent := v_parent || v_edges;
    IF p_step = ANY(v_next) THEN
      v_path := ARRAY[p_step];
      v_at := p_step;
      WHILE v_at <> p_prereq LOOP
        v_at := (v_parent ->> v_at::text)::integer;
        v_path := v_at || v_path;
      END LOOP;
      RETURN p_step || v_path;
    END IF;
    v_seen := v_seen || v_next;
    v_frontier := v_next;
  END LOOP;
  RETURN NULL;
END
$fn$;

-- A new dependency: on a failed prerequisite the dependent fails; closing a cycle fails the
-- cycle's open steps.
CREATE FUNCTION jobline_dependency_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_cycle integer[];
BEGIN
  IF jobline_prerequisite_failed(NEW.jdep_jq_fk) THEN
    UPDATE jobqueue
       SET jq_endtime = now(), jq_end_bits = jq_end_bits | 2,
           jq_endtext = 'dependency failed', jq_schedinfo = NULL
     WHERE jq_pk = NEW.jdep_jq_fk AND jq_endtime IS NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(7428190236);
  v_cycle := jobline_dependency_cycle(NEW.jdep_jq_fk, NEW.jdep_jq_depends_fk);
  IF v_cycle IS NOT NULL THEN
    UPDATE jobqueue
       SET jq_endtime = now(), jq_end_bits = jq_end_bits | 2, jq_schedinfo = NULL,
           jq_endtext = 'dependency cycle: ' || array_to_string(v_cycle, ' -> ')
     WHERE jq_pk = ANY(v_cycle) AND jq_endtime IS NULL;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER jobdepends_added
  AFTER INSERT OR UPDATE ON jobdepends
  FOR EACH ROW EXECUTE FUNCTION jobline_dependency_added();

-- What earlier versions left: open steps behind a failed prerequisite, and cycles.
UPDATE jobqueue c
   SET jq_endtime = now(), jq_end_bits = c.jq_end_bits | 2,
       jq_endtext = 'dependency failed', jq_schedinfo = NULL
  FROM jobdepends d JOIN jobqueue p ON p.jq_pk = d.jdep_jq_depends_fk
 WHERE c.jq_pk = d.jdep_jq_fk AND c.jq_endtime IS NULL
   AND p.jq_endtime IS NOT NULL AND (p.jq_end_bits & 2) <> 0;
DO $sweep$
DECLARE
  v_edge record;
  v_cycle integer[];
BEGIN
  FOR v_edge IN
    SELECT d.jdep_jq_fk, d.jdep_jq_depends_fk FROM jobdepends d
      JOIN jobqueue c ON c.jq_pk = d.jdep_jq_fk
     WHERE c.jq_endtime IS NULL
  LOOP
    v_cycle := jobline_dependency_cycle(v_edge.jdep_jq_fk, v_edge.jdep_jq_depends_fk);
    IF v_cycle IS NOT NULL THEN
      UPDATE jobqueue
         SET jq_endtime = now(), jq_end_bits = jq_end_bits | 2, jq_schedinfo = NULL,
             jq_endtext = 'dependency cycle: ' || array_to_string(v_cycle, ' -> ')
       WHERE jq_pk = ANY(v_cycle) AND jq_endtime IS NULL;
    END IF;
  END LOOP;
END
$sweep$;

INSERT INTO jobline_schema (version, name) VALUES (4, '004_dependencies');
