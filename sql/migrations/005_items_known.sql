-- Migration 5: jq_itemsknown, how many items a step has to do when that is known, for progress
-- and ETA (jobctl watch, the web page). The scheduler writes it for SQL-fed steps: the number
-- of rows the step's query returns when it starts (the rows still to do). NULL: not known.
ALTER TABLE jobqueue ADD COLUMN jq_itemsknown bigint;

INSERT INTO jobline_schema (version, name) VALUES (5, '005_items_known');
