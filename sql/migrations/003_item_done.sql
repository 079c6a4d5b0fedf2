-- Migration 3: the done-markers of libagent's KILL-safe item loop (docs/database.md).
-- One row per (agent_pk, scope, item) an agent has committed results for. Items are data
-- lines of up to 64 KiB and any bytes, so they are stored as bytea and keyed by their
-- SHA-256; `scope` is '' (done once per agent revision) unless the agent chooses one.
CREATE TABLE agent_item_done (
  agent_fk  integer NOT NULL REFERENCES agent (agent_pk) ON DELETE CASCADE,
  scope     text NOT NULL DEFAULT '',
  item_hash bytea NOT NULL,
  item      bytea NOT NULL,
  done_ts   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_fk, scope, item_hash)
);

INSERT INTO jobline_schema (version, name) VALUES (3, '003_item_done');
