-- The schema version record (run by every installer before the migrations, in the same
-- transaction, under the same advisory lock). One row per applied migration; each migration
-- file inserts its own row as its last statement.
-- (An existing table gives a NOTICE; it is expected, so it is not shown.)
SET LOCAL client_min_messages = warning;
CREATE TABLE IF NOT EXISTS jobline_schema (
  version integer PRIMARY KEY,
  name    text NOT NULL,
  applied timestamptz NOT NULL DEFAULT now()
);
