// Every statement the scheduler runs against the job queue, in one place (SPEC §4). All take
// parameters ($n); nothing is ever pasted into SQL text. All are idempotent: the statement in
// flight when the connection is lost is sent again on the next one (database.hpp).
#pragma once

namespace sched::sql {

// The NOTIFY channel of the jobqueue trigger (sql/migrations).
inline constexpr const char* kChannel = "jobline_jobqueue";

// One scheduler per database: held for the life of the session, so taken again on every new
// connection (a false answer then means another scheduler took the database meanwhile).
inline constexpr const char* kTryLock = "SELECT pg_try_advisory_lock(7428190235)";

// The planner settings of the scheduler's session, made on every connection before anything
// else: no bitmap scans. Until jobqueue is first analyzed (a new database, until autovacuum
// first comes by) the planner expects a row or two in jobqueue_ready_idx, and for a backlog of
// ~2,000 to ~40,000 steps it then took a bitmap scan of that whole index and a sort for
// kReadySteps: every poll tested every queued step's prerequisites (5,000 queued: 16-18 ms a poll,
// against 0.7 ms reading the index in order). Without bitmap scans the index is read in order
// whatever the statistics say. Every statement of this session looks rows up by a key or reads a
// partial index in order, and the steps' SQL runs on connections of its own (SqlSource, AgentDb),
// so nothing of the scheduler's loses a plan it needs.
inline constexpr const char* kPlanner = "SET enable_bitmapscan = off";

// A step not started that may be taken now, in either ready-step statement (`q`: its alias):
// not paused, not among $1 (the jq_pks already in memory), every prerequisite ended without
// failure. (Pasted into both as SQL text: as a function its EXISTS could not be inlined, and
// calling it for each row read cost ~0.4 ms a poll.)
#define JOBLINE_TAKEABLE(q)                              \
  q ".jq_endtext IS DISTINCT FROM 'Paused'"              \
    " AND NOT (" q                                       \
    ".jq_pk = ANY($1::int[]))"                           \
    " AND NOT EXISTS (SELECT 1 FROM jobdepends d"        \
    " JOIN jobqueue p ON p.jq_pk = d.jdep_jq_depends_fk" \
    " WHERE d.jdep_jq_fk = " q                           \
    ".jq_pk"                                             \
    " AND (p.jq_endtime IS NULL OR (p.jq_end_bits & 2) <> 0))"

// Ready steps: not started, not ended, takeable; by priority then age. $1: jq_pks already in
// memory; $2: how many. jq_priority is the job's priority (migration 9), so jobqueue_ready_idx
// yields this order and the query reads about $2 entries of it, not every queued step, whatever
// the table's statistics say (migration 13; with statistics taken while every step had ended,
// the planner expected a row or two and read and sorted the whole backlog):
// - "not started, not ended" is written as that index's predicate, coalesce(jq_endtime,
//   jq_starttime) IS NULL, which implies no other index's (jobqueue_unfinished_idx's was);
// - the LIMIT is taken on jobqueue alone, before the join with job (the planner hash-joined
//   the backlog to its jobs and sorted the result when it expected fewer rows than $2).
inline constexpr const char* kReadySteps = R"(
SELECT jq.jq_pk, jq.jq_job_fk, jq.jq_type, jq.jq_args, jq.jq_runonpfile, jq.jq_host,
       jq.jq_cmd_args, coalesce(j.job_user_fk, 0), coalesce(j.job_group_fk, 0), j.job_priority
  FROM (SELECT q.* FROM jobqueue q
         WHERE coalesce(q.jq_endtime, q.jq_starttime) IS NULL
           AND )" JOBLINE_TAKEABLE("q") R"(
         ORDER BY q.jq_priority DESC, q.jq_pk
         LIMIT $2) jq
  JOIN job j ON j.job_pk = jq.jq_job_fk
 ORDER BY jq.jq_priority DESC, jq.jq_pk)";

// The same rows, in the same order, but at most so many of some groups (a type and a jq_host,
// NULL for none): $3-$5 are those groups and how many more steps each may take (the scheduler's
// memory holds as many as the group may have, or nearly). The groups of the queue are found by
// skipping through jobqueue_group_ready_idx (`groups`), and each is read in order from that
// index only that far ($2 for the others): a group's backlog is never read through (migration
// 10), and the steps behind it are still reached. "Not started, not ended" is written as that
// index's predicate, coalesce(jq_starttime, jq_endtime) IS NULL, which does not imply
// jobqueue_ready_idx's: so the planner cannot take that one (and sort) instead, as it did
// before the table's statistics counted a freshly queued backlog (reading all of it).
inline constexpr const char* kReadyStepsByGroup = R"(
WITH RECURSIVE groups AS (
  (SELECT jq_type AS type, jq_host IS NULL AS no_host, coalesce(jq_host, '') AS host
     FROM jobqueue WHERE coalesce(jq_starttime, jq_endtime) IS NULL
    ORDER BY 1, 2, 3 LIMIT 1)
  UNION ALL
  SELECT n.* FROM groups g CROSS JOIN LATERAL (
    SELECT jq_type, jq_host IS NULL, coalesce(jq_host, '') FROM jobqueue
     WHERE coalesce(jq_starttime, jq_endtime) IS NULL
       AND (jq_type, jq_host IS NULL, coalesce(jq_host, '')) > (g.type, g.no_host, g.host)
     ORDER BY 1, 2, 3 LIMIT 1) n
), limits AS (
  SELECT g.*, coalesce(f.most, $2) AS most
    FROM groups g LEFT JOIN unnest($3::text[], $4::text[], $5::int[]) f(type, host, most)
      ON f.type = g.type
     AND f.host IS NOT DISTINCT FROM CASE WHEN g.no_host THEN NULL ELSE g.host END
)
SELECT jq.jq_pk, jq.jq_job_fk, jq.jq_type, jq.jq_args, jq.jq_runonpfile, jq.jq_host,
       jq.jq_cmd_args, coalesce(j.job_user_fk, 0), coalesce(j.job_group_fk, 0), j.job_priority
  FROM limits l CROSS JOIN LATERAL (
    SELECT q.jq_pk, -q.jq_priority::bigint AS rank FROM jobqueue q
     WHERE coalesce(q.jq_starttime, q.jq_endtime) IS NULL
       AND q.jq_type = l.type AND (q.jq_host IS NULL) = l.no_host
       AND coalesce(q.jq_host, '') = l.host
       AND )" JOBLINE_TAKEABLE("q") R"(
     ORDER BY -q.jq_priority::bigint, q.jq_pk
     LIMIT l.most) s
  JOIN jobqueue jq ON jq.jq_pk = s.jq_pk JOIN job j ON j.job_pk = jq.jq_job_fk
 ORDER BY s.rank, s.jq_pk
 LIMIT $2)";

#undef JOBLINE_TAKEABLE

// Whether a step has ended, and its end text. $1 jq_pk.
inline constexpr const char* kStepEnd =
    "SELECT jq_endtime IS NOT NULL, coalesce(jq_endtext, '') FROM jobqueue WHERE jq_pk = $1";

// $1 jq_pk, $2 schedinfo (host.pid), $3 log path.
inline constexpr const char* kStartStep = R"(
UPDATE jobqueue SET jq_starttime = coalesce(jq_starttime, now()), jq_endtext = 'Started',
       jq_schedinfo = $2, jq_log = $3, jq_itemsprocessed = 0, jq_itemsknown = NULL
 WHERE jq_pk = $1)";

// $1 jq_pk, $2 items.
inline constexpr const char* kItems = "UPDATE jobqueue SET jq_itemsprocessed = $2 WHERE jq_pk = $1";

// $1 jq_pk, $2 the items the step has to do (the rows of its query at its start).
inline constexpr const char* kItemsKnown =
    "UPDATE jobqueue SET jq_itemsknown = $2 WHERE jq_pk = $1";

// $1 jq_pk, $2 items. Returns whether other steps depend on it (no row when it had ended
// already: sent again, it changes nothing).
inline constexpr const char* kCompleteStep = R"(
UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = jq_end_bits | 1, jq_endtext = 'Completed',
       jq_schedinfo = NULL, jq_itemsprocessed = $2
 WHERE jq_pk = $1 AND jq_endtime IS NULL
RETURNING EXISTS (SELECT 1 FROM jobdepends WHERE jdep_jq_depends_fk = $1))";

// $1 jq_pk, $2 items, $3 end text. Also for steps not in memory (kill by jq_pk). Returns
// whether other steps depend on it (no row when it had ended already).
inline constexpr const char* kFailStep = R"(
UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = jq_end_bits | 2, jq_endtext = $3,
       jq_schedinfo = NULL, jq_itemsprocessed = greatest(jq_itemsprocessed, $2)
 WHERE jq_pk = $1 AND jq_endtime IS NULL
RETURNING EXISTS (SELECT 1 FROM jobdepends WHERE jdep_jq_depends_fk = $1))";

// $1 jq_pk. A paused step keeps its start time; one not started yet is held by its text.
inline constexpr const char* kPauseStep =
    "UPDATE jobqueue SET jq_endtext = 'Paused' WHERE jq_pk = $1 AND jq_endtime IS NULL";
// $1 jq_pk, $2 true when the step is not in memory (then it is queued again from scratch).
inline constexpr const char* kRestartStep = R"(
UPDATE jobqueue SET jq_endtext = 'Restarted',
       jq_starttime = CASE WHEN $2::boolean THEN NULL ELSE jq_starttime END
 WHERE jq_pk = $1 AND jq_endtime IS NULL AND jq_endtext = 'Paused')";

// $1 jq_pk, $2 priority.
inline constexpr const char* kPriority = R"(
UPDATE job SET job_priority = $2 WHERE job_pk = (SELECT jq_job_fk FROM jobqueue WHERE jq_pk = $1))";

// Startup: steps a previous scheduler started and never ended (it crashed), or with --reset
// every unfinished step including paused ones.
inline constexpr const char* kOrphans = R"(
SELECT jq_pk, coalesce(jq_schedinfo, '') FROM jobqueue
 WHERE jq_endtime IS NULL AND jq_starttime IS NOT NULL
   AND ($1::boolean OR jq_endtext IS DISTINCT FROM 'Paused'))";
// Startup without --reset: steps paused while they ran. They stay paused, but the agents the
// previous scheduler stopped cannot go on for this one (their leftovers are killed).
inline constexpr const char* kPausedStarted = R"(
SELECT jq_pk, coalesce(jq_schedinfo, '') FROM jobqueue
 WHERE jq_endtime IS NULL AND jq_starttime IS NOT NULL AND jq_endtext = 'Paused')";
inline constexpr const char* kRequeue = R"(
UPDATE jobqueue SET jq_starttime = NULL, jq_schedinfo = NULL,
       jq_endtext = CASE WHEN $2::boolean THEN NULL ELSE 'Restarted' END
 WHERE jq_pk = ANY($1::int[]) AND jq_endtime IS NULL)";
// --reset also releases steps paused before they started.
inline constexpr const char* kResetPaused = R"(
UPDATE jobqueue SET jq_endtext = NULL WHERE jq_endtime IS NULL AND jq_endtext = 'Paused')";

}  // namespace sched::sql
