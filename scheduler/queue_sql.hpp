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

// Ready steps: not started, not ended, not paused, every prerequisite ended without failure;
// by priority then age. $1: jq_pks already in memory; $2: how many; $3-$6: groups (a type and a
// jq_host, NULL for none) with as many steps waiting in memory as they may have, each with the
// priority and jq_pk of the last of those (the group's steps that rank after it are left out;
// one that ranks before still comes). jq_priority is the job's priority (migration 9), so
// jobqueue_ready_idx yields this order and the query reads about $2 entries of it, not every
// queued step (plus the steps left out that rank before them).
inline constexpr const char* kReadySteps = R"(
SELECT jq.jq_pk, jq.jq_job_fk, jq.jq_type, jq.jq_args, jq.jq_runonpfile, jq.jq_host,
       jq.jq_cmd_args, coalesce(j.job_user_fk, 0), coalesce(j.job_group_fk, 0), j.job_priority
  FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk
 WHERE jq.jq_starttime IS NULL AND jq.jq_endtime IS NULL
   AND jq.jq_endtext IS DISTINCT FROM 'Paused'
   AND NOT (jq.jq_pk = ANY($1::int[]))
   AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[], $5::int[], $6::int[])
                                   f(type, host, priority, pk)
                    WHERE f.type = jq.jq_type AND f.host IS NOT DISTINCT FROM jq.jq_host
                      AND (jq.jq_priority, -jq.jq_pk) < (f.priority, -f.pk))
   AND NOT EXISTS (SELECT 1 FROM jobdepends d JOIN jobqueue p ON p.jq_pk = d.jdep_jq_depends_fk
                    WHERE d.jdep_jq_fk = jq.jq_pk
                      AND (p.jq_endtime IS NULL OR (p.jq_end_bits & 2) <> 0))
 ORDER BY jq.jq_priority DESC, jq.jq_pk
 LIMIT $2)";

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
