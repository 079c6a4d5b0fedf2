-- Migration 6: the scanners' results (SPEC §9, docs/agents.md), with FOSSology's table and
-- column names so that queries and reports written for FOSSology read them. Every result row
-- names the agent revision (agent_fk) that found it; a scanner writes a file's results and its
-- pfile_scanned row in one transaction, so "scanned" always means "all results are there".

-- Licenses by SPDX id (rf_shortname), e.g. 'MIT', 'GPL-2.0-or-later',
-- 'GPL-2.0-only WITH Linux-syscall-note'. The license agent adds the rows it needs.
CREATE TABLE license_ref (
  rf_pk        serial PRIMARY KEY,
  rf_shortname text NOT NULL UNIQUE,
  rf_fullname  text
);

-- One license found in one file by one agent revision; the byte range is where in the file
-- (end exclusive); rf_match_pct is 100 for SPDX tags and matched texts/notices.
CREATE TABLE license_file (
  fl_pk         bigserial PRIMARY KEY,
  rf_fk         integer NOT NULL REFERENCES license_ref (rf_pk),
  agent_fk      integer NOT NULL REFERENCES agent (agent_pk) ON DELETE CASCADE,
  pfile_fk      integer NOT NULL REFERENCES pfile (pfile_pk) ON DELETE CASCADE,
  rf_match_pct  integer,
  fl_start_byte bigint,
  fl_end_byte   bigint
);
CREATE INDEX license_file_pfile_agent_idx ON license_file (pfile_fk, agent_fk);
CREATE INDEX license_file_rf_fk_idx ON license_file (rf_fk);

-- Copyright statements, e-mail addresses and URLs (type) with their byte range in the file
-- (end exclusive); hash = md5(content); holder = the statement's holder (statements only).
CREATE TABLE copyright (
  copyright_pk   bigserial PRIMARY KEY,
  agent_fk       integer NOT NULL REFERENCES agent (agent_pk) ON DELETE CASCADE,
  pfile_fk       integer NOT NULL REFERENCES pfile (pfile_pk) ON DELETE CASCADE,
  content        text,
  hash           text,
  type           text NOT NULL CHECK (type IN ('statement', 'email', 'url')),
  copy_startbyte bigint,
  copy_endbyte   bigint,
  holder         text
);
CREATE INDEX copyright_pfile_agent_idx ON copyright (pfile_fk, agent_fk);

-- MIME types (libmagic's names), referenced by pfile.pfile_mimetypefk.
CREATE TABLE mimetype (
  mimetype_pk   serial PRIMARY KEY,
  mimetype_name text NOT NULL UNIQUE
);
ALTER TABLE pfile ADD COLUMN IF NOT EXISTS pfile_mimetypefk integer REFERENCES mimetype (mimetype_pk);

-- Which agent revision has scanned which file (whatever it found, even nothing): the scanners'
-- SQL-fed queries select the files of an upload that have no row here for their $agent_pk.
CREATE TABLE pfile_scanned (
  agent_fk   integer NOT NULL REFERENCES agent (agent_pk) ON DELETE CASCADE,
  pfile_fk   integer NOT NULL REFERENCES pfile (pfile_pk) ON DELETE CASCADE,
  scanned_ts timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_fk, pfile_fk)
);
CREATE INDEX pfile_scanned_pfile_idx ON pfile_scanned (pfile_fk);

INSERT INTO jobline_schema (version, name) VALUES (6, '006_scanners');
