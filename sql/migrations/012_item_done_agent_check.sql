-- Migration 12: agent_item_done's reference to agent is checked once per statement, not once
-- per row. The foreign key of migration 3 made PostgreSQL run its check (an SPI query that
-- looks up and locks the agent's row) for every done-marker: with libagent's groups of 100,
-- 3.1 of the 7.9 us a marker took to insert (a DO loop of 2,000 such INSERTs on a private
-- cluster; docs/database.md). The marking statement of a group names one agent, so the
-- statement-level triggers below look it up and lock it once. What the foreign key promised
-- still holds, for every writer:
-- - a marker names an existing agent: an INSERT or UPDATE naming another fails with SQLSTATE
--   23503 (foreign_key_violation), as before;
-- - the agent's row is locked FOR KEY SHARE until the transaction ends, as the foreign key's
--   check locks it, so a concurrent DELETE of the agent waits for the markers to commit and
--   then removes them, and a marker written after such a DELETE committed fails;
-- - deleting an agent deletes its markers (was ON DELETE CASCADE); changing a referenced
--   agent_pk fails (was NO ACTION); TRUNCATE agent empties agent_item_done (a foreign key made
--   TRUNCATE agent fail unless CASCADE, which emptied it; ars_master's still does).
ALTER TABLE agent_item_done DROP CONSTRAINT agent_item_done_agent_fk_fkey;

CREATE FUNCTION agent_item_done_check_agent() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  fk integer;
BEGIN
  FOR fk IN SELECT DISTINCT agent_fk FROM new_rows LOOP
    PERFORM 1 FROM agent WHERE agent_pk = fk FOR KEY SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'insert or update on table "agent_item_done" names no agent'
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('Key (agent_fk)=(%s) is not present in table "agent".', fk);
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER agent_item_done_inserted AFTER INSERT ON agent_item_done
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_item_done_check_agent();
CREATE TRIGGER agent_item_done_updated AFTER UPDATE ON agent_item_done
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_item_done_check_agent();

-- Deleting agents deletes their markers. PL/pgSQL takes a new snapshot for each statement, so
-- markers committed while the DELETE waited for their lock are seen and deleted.
CREATE FUNCTION agent_deleted_item_done() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM agent_item_done d USING old_rows o WHERE d.agent_fk = o.agent_pk;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER agent_deleted_item_done AFTER DELETE ON agent
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_deleted_item_done();

-- A referenced agent_pk cannot change (checked at the end of the statement, as NO ACTION is).
CREATE FUNCTION agent_key_changed_item_done() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM agent_item_done WHERE agent_fk = OLD.agent_pk)
     AND NOT EXISTS (SELECT 1 FROM agent WHERE agent_pk = OLD.agent_pk) THEN
    RAISE EXCEPTION 'update on table "agent" leaves done-markers of agent % without it',
      OLD.agent_pk
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('Key (agent_pk)=(%s) is still referenced from table "agent_item_done".',
                            OLD.agent_pk);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER agent_key_changed_item_done AFTER UPDATE OF agent_pk ON agent
  FOR EACH ROW WHEN (OLD.agent_pk IS DISTINCT FROM NEW.agent_pk)
  EXECUTE FUNCTION agent_key_changed_item_done();

CREATE FUNCTION agent_truncated_item_done() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  TRUNCATE agent_item_done;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER agent_truncated_item_done AFTER TRUNCATE ON agent
  FOR EACH STATEMENT EXECUTE FUNCTION agent_truncated_item_done();

INSERT INTO jobline_schema (version, name) VALUES (12, '012_item_done_agent_check');
