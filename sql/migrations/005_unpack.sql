-- PLACEHOLDER on branch agents-scan only: migration 5 belongs to the unpack agent's branch
-- (agents-unpack). It exists here so that 006_scanners.sql has no gap; drop this file in
-- favour of the real 005 when merging.
INSERT INTO jobline_schema (version, name) VALUES (5, '005_unpack');
