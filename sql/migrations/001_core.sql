-- Migration 1: FOSSology's core tables (reference/fossology.md §4.1, §7.3, §7.4): uploads and
-- files for the sample agents, the job queue, agents and the agent run status (ars).
-- A migration runs inside the installer's transaction: no BEGIN/COMMIT, no psql commands.

CREATE TABLE pfile (
  pfile_pk   serial PRIMARY KEY,
  pfile_sha1 char(40) NOT NULL,
  pfile_md5  char(32) NOT NULL,
  pfile_size bigint NOT NULL,
  CONSTRAINT pfile_unique_hashes UNIQUE (pfile_sha1, pfile_md5, pfile_size)
);

CREATE TABLE upload (
  upload_pk       serial PRIMARY KEY,
  upload_filename text,
  upload_desc     text,
  upload_origin   text,
  upload_ts       timestamptz DEFAULT now(),
  pfile_fk        integer,
  upload_mode     integer
);

CREATE TABLE uploadtree (
  uploadtree_pk serial PRIMARY KEY,
  parent        integer,
  upload_fk     integer NOT NULL REFERENCES upload (upload_pk) ON DELETE CASCADE,
  pfile_fk      integer REFERENCES pfile (pfile_pk),
  ufile_mode    integer NOT NULL DEFAULT 0,
  lft           integer,
  rgt           integer,
  ufile_name    text NOT NULL
);
CREATE INDEX uploadtree_upload_fk_idx ON uploadtree (upload_fk);
CREATE INDEX uploadtree_pfile_fk_idx ON uploadtree (pfile_fk);

CREATE TABLE job (
  job_pk           serial PRIMARY KEY,
  job_queued       timestamptz DEFAULT now(),
  job_priority     integer NOT NULL DEFAULT 0,
  job_email_notify text,
  job_name         text,
  job_upload_fk    integer REFERENCES upload (upload_pk) ON DELETE CASCADE,
  job_folder_fk    integer,
  job_user_fk      integer,
  job_group_fk     integer
);
CREATE INDEX job_upload_fk_idx ON job (job_upload_fk);

-- One step of a job; the scheduler calls it a job (SPEC §4). jq_end_bits: 1 ok, 2 failed.
CREATE TABLE jobqueue (
  jq_pk             serial PRIMARY KEY,
  jq_job_fk         integer NOT NULL REFERENCES job (job_pk) ON DELETE CASCADE,
  jq_type           text NOT NULL,
  jq_args           text,
  jq_starttime      timestamptz,
  jq_endtime        timestamptz,
  jq_endtext        text,
  jq_end_bits       smallint NOT NULL DEFAULT 0,
  jq_schedinfo      text,
  jq_itemsprocessed bigint NOT NULL DEFAULT 0,
  jq_log            text,
  jq_runonpfile     text,
  jq_host           text,
  jq_cmd_args       text
);
-- The scheduler's ready-step query looks only at unfinished steps.
CREATE INDEX jobqueue_unfinished_idx ON jobqueue (jq_pk) WHERE jq_endtime IS NULL;
CREATE INDEX jobqueue_jq_job_fk_idx ON jobqueue (jq_job_fk);

-- jdep_jq_fk waits for jdep_jq_depends_fk.
CREATE TABLE jobdepends (
  jdep_jq_fk         integer NOT NULL REFERENCES jobqueue (jq_pk) ON DELETE CASCADE,
  jdep_jq_depends_fk integer NOT NULL REFERENCES jobqueue (jq_pk) ON DELETE CASCADE,
  PRIMARY KEY (jdep_jq_fk, jdep_jq_depends_fk)
);
CREATE INDEX jobdepends_jq_fk_idx ON jobdepends (jdep_jq_fk);
CREATE INDEX jobdepends_jq_depends_fk_idx ON jobdepends (jdep_jq_depends_fk);

CREATE TABLE agent (
  agent_pk      serial PRIMARY KEY,
  agent_name    text NOT NULL,
  agent_rev     text NOT NULL DEFAULT '',
  agent_desc    text,
  agent_enabled boolean NOT NULL DEFAULT true,
  agent_ts      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agent_unique_name_rev UNIQUE (agent_name, agent_rev)
);

-- Agent run status. Each agent has a table <agent>_ars INHERITS (ars_master), created on
-- demand by libagent; they share ars_master's sequence, so ars_pk is unique across them.
CREATE TABLE ars_master (
  ars_pk        serial PRIMARY KEY,
  agent_fk      integer NOT NULL REFERENCES agent (agent_pk),
  upload_fk     integer NOT NULL REFERENCES upload (upload_pk) ON DELETE CASCADE,
  ars_success   boolean NOT NULL DEFAULT false,
  ars_status    text,
  ars_starttime timestamptz NOT NULL DEFAULT now(),
  ars_endtime   timestamptz
);

INSERT INTO jobline_schema (version, name) VALUES (1, '001_core');
