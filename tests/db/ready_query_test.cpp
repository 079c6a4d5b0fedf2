// The scheduler's ready-step query (queue_sql.hpp) against the real schema, planned with the
// scheduler's planner settings: steps carry their job's priority (migration 9) and the query
// reads them in order from jobqueue_ready_idx, so a poll with 20,000 steps queued neither sorts
// nor reads them all, whatever the table's statistics say.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "queue_sql.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// In a session with the scheduler's planner settings (sched::sql::kPlanner), the ready queries
// prepared as `ready` (jq_pks in memory, how many) and `by_group` (the same, then groups and how
// many steps each may take), then `then` in the same session.
std::vector<std::string> with_ready(const test::TempDatabase& db, const std::string& then) {
  return db.rows(std::string(sched::sql::kPlanner) + "; PREPARE ready(int[], int) AS " +
                 sched::sql::kReadySteps +
                 "; PREPARE by_group(int[], int, text[], text[], int[]) AS " +
                 sched::sql::kReadyStepsByGroup + ";" + then);
}

// The jq_pks of the rows (the first column of each).
std::vector<std::string> pks(std::vector<std::string> rows) {
  for (auto& row : rows) row = row.substr(0, row.find('|'));
  return rows;
}

// The shared buffers (hit and read) that the statement's plan, run by EXPLAIN ANALYZE, touched.
long buffers_touched(const std::vector<std::string>& plan) {
  for (const auto& line : plan) {  // the first Buffers line is the top node's: the total
    auto at = line.find("Buffers: shared");
    if (at == std::string::npos) continue;
    long total = 0;
    for (const char* kind : {"hit=", "read="})
      if (auto k = line.find(kind, at); k != std::string::npos)
        total += std::stol(line.substr(k + std::string(kind).size()));
    return total;
  }
  return -1;
}

// `run` six times: prepared statements switch to a generic plan after five runs, so a plan
// shown after these is the generic one.
std::string until_generic_plan(const std::string& run) {
  std::string runs;
  for (int i = 0; i < 6; ++i) runs += run + ";";
  return runs;
}

// Runs `run` under EXPLAIN (ANALYZE, BUFFERS) after `before`, expects it to touch some but fewer
// than 200 buffers (a poll that reads through a backlog of thousands touches thousands), and
// returns the plan's text.
std::string expect_a_short_read(const test::TempDatabase& db, const std::string& before,
                                const std::string& run) {
  auto plan = with_ready(db, before + "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + run);
  long touched = buffers_touched(plan);
  std::string text;
  for (const auto& line : plan) text += line + "\n";
  EXPECT_GT(touched, 0) << text;
  EXPECT_LT(touched, 200) << text;
  return text;
}

// The schema, with autovacuum off for jobqueue: its statistics stay as the test leaves them
// (none until the test runs ANALYZE).
void install_without_analyze(const test::TempDatabase& db) {
  jobline::schema::install(db.conninfo());
  db.query("ALTER TABLE jobqueue SET (autovacuum_enabled = off)");
}

TEST(ReadyQuery, StepsCarryTheirJobsPriority) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  std::string job = db.query("SELECT queue_job('p', NULL, 3)");
  std::string by_function = db.query("SELECT queue_step(" + job + ", 'a', 'x')");
  // A value given in a plain INSERT is replaced by the job's.
  std::string by_insert =
      db.query("INSERT INTO jobqueue (jq_job_fk, jq_type, jq_args, jq_priority) VALUES (" + job +
               ", 'a', 'y', 99) RETURNING jq_pk");
  auto priority = [&](const std::string& jq) {
    return db.query("SELECT jq_priority FROM jobqueue WHERE jq_pk = " + jq);
  };
  EXPECT_EQ(priority(by_function), "3");
  EXPECT_EQ(priority(by_insert), "3");
  // Setting it on the step alone does not hold either: the job is the one place.
  db.query("UPDATE jobqueue SET jq_priority = 50 WHERE jq_pk = " + by_insert);
  EXPECT_EQ(priority(by_insert), "3");
  // A new priority of the job (the scheduler's `priority` command writes job_priority).
  db.query("UPDATE job SET job_priority = 7 WHERE job_pk = " + job);
  EXPECT_EQ(priority(by_function), "7");
  EXPECT_EQ(priority(by_insert), "7");
  // A step moved to another job takes that job's.
  std::string other = db.query("SELECT queue_job('q', NULL, -2)");
  db.query("UPDATE jobqueue SET jq_job_fk = " + other + " WHERE jq_pk = " + by_insert);
  EXPECT_EQ(priority(by_insert), "-2");
}

TEST(ReadyQuery, UpgradeFromVersion8GivesQueuedStepsTheirPriority) {
  test::TempDatabase db;
  const std::string dir = test::source_dir() + "/sql/";
  std::string sql = "BEGIN;" + slurp(dir + "bootstrap.sql");
  for (const char* m :
       {"001_core", "002_queueing", "003_item_done", "004_dependencies", "005_items_known",
        "006_scanners", "007_dependency_locks", "008_progress_notify"})
    sql += slurp(dir + "migrations/" + m + ".sql");
  db.query(sql + "COMMIT;");
  ASSERT_EQ(db.query("SELECT max(version) FROM jobline_schema"), "8");
  std::string high = db.query("SELECT queue_step(queue_job('h', NULL, 5), 'a', 'h')");
  std::string low = db.query("SELECT queue_step(queue_job('l'), 'a', 'l')");
  jobline::schema::install(db.conninfo());
  EXPECT_EQ(db.query("SELECT jq_priority FROM jobqueue WHERE jq_pk = " + high), "5");
  EXPECT_EQ(db.query("SELECT jq_priority FROM jobqueue WHERE jq_pk = " + low), "0");
  auto ready = with_ready(db, "EXECUTE ready('{}', 10)");
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].substr(0, ready[0].find('|')), high);
  EXPECT_EQ(ready[1].substr(0, ready[1].find('|')), low);
}

// $3-$5: groups (a type and a jq_host, NULL for none) and how many more steps each may take: the
// first that many of a group come (in memory or not ready ones left out) and then the steps of
// the other groups, all in the queue's one order; a name is matched whole.
TEST(ReadyQuery, EachGroupComesOnlyAsFarAsItHasRoom) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  db.query("SELECT count(queue_step(queue_job('a' || g), 'a', 'x')) FROM generate_series(1, 5) g");
  std::string b1 = db.query("SELECT queue_step(queue_job('b1'), 'b', 'x')");
  std::string q = db.query("SELECT queue_step(queue_job('q'), 'we\"ird\\', 'x')");
  std::string b2 = db.query("SELECT queue_step(queue_job('b2'), 'b', 'x')");
  std::string high = db.query("SELECT queue_step(queue_job('h', NULL, 5), 'a', 'x')");
  // Two steps of type a pinned to host far, one to host near.
  std::string far1 = db.query("SELECT queue_step(queue_job('f1'), 'a', 'x', '{}', NULL, 'far')");
  std::string far2 = db.query("SELECT queue_step(queue_job('f2'), 'a', 'x', '{}', NULL, 'far')");
  std::string near = db.query("SELECT queue_step(queue_job('n'), 'a', 'x', '{}', NULL, 'near')");
  auto ready = [&](const std::string& held, const std::string& args) {
    return pks(with_ready(db, "EXECUTE by_group('{" + held + "}', " + args + ")"));
  };
  using V = std::vector<std::string>;
  const V all{high, "1", "2", "3", "4", "5", b1, q, b2, far1, far2, near};
  EXPECT_EQ(ready("", "20, '{}', '{}', '{}'"), all);
  EXPECT_EQ(pks(with_ready(db, "EXECUTE ready('{}', 20)")), all);
  EXPECT_EQ(ready("", "3, '{}', '{}', '{}'"), (V{high, "1", "2"}));
  // Type a on no host may take 2 more: high and 1; a's steps pinned to a host are other groups.
  EXPECT_EQ(ready("", "20, '{a}', '{NULL}', '{2}'"), (V{high, "1", b1, q, b2, far1, far2, near}));
  // With high and 1 in memory the next of the group come.
  EXPECT_EQ(ready(high + ",1", "20, '{a}', '{NULL}', '{1}'"),
            (V{"2", b1, q, b2, far1, far2, near}));
  EXPECT_EQ(ready("", R"(20, '{a,"we\"ird\\"}', '{NULL,NULL}', '{1,1}')"),
            (V{high, b1, q, b2, far1, far2, near}));
  EXPECT_EQ(ready("", "20, '{we}', '{NULL}', '{1}'"), all);
  // Type a on host far may take 1 more: the second stays out, nothing else does.
  EXPECT_EQ(ready("", "20, '{a}', '{far}', '{1}'"),
            (V{high, "1", "2", "3", "4", "5", b1, q, b2, far1, near}));
  // Both groups of a at once.
  EXPECT_EQ(ready("", "20, '{a,a}', '{NULL,far}', '{1,1}'"), (V{high, b1, q, b2, far1, near}));
  // A step waiting for a prerequisite or paused does not count.
  db.query("INSERT INTO jobdepends VALUES (" + high + ", " + near + ")");
  db.query("UPDATE jobqueue SET jq_endtext = 'Paused' WHERE jq_pk = 1");
  EXPECT_EQ(ready("", "20, '{a}', '{NULL}', '{2}'"), (V{"2", "3", b1, q, b2, far1, far2, near}));
}

// Read group by group (kReadyStepsByGroup), the queue still comes in its one order: at the
// extreme priorities (their negation is taken in bigint), across types and hosts, with a
// jq_host of '' a group apart from none.
TEST(ReadyQuery, GroupByGroupTheQueueKeepsItsOrder) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  db.query(
      "SELECT count(queue_step(queue_job('j' || g, NULL, (ARRAY[-2147483648, -1, 0, 1, "
      "2147483647])[1 + g % 5]::integer), (ARRAY['a', 'b'])[1 + g % 2], 'x', '{}', NULL, "
      "(ARRAY[NULL, 'e', 'h'])[1 + g % 3])) FROM generate_series(1, 60) g");
  db.query("UPDATE jobqueue SET jq_host = '' WHERE jq_host = 'e'");  // (queue_step makes '' none)
  const std::string order = " ORDER BY jq_priority DESC, jq_pk";
  auto all = db.rows("SELECT jq_pk FROM jobqueue" + order);
  ASSERT_EQ(all.size(), 60u);
  EXPECT_EQ(pks(with_ready(db, "EXECUTE ready('{}', 100)")), all);
  EXPECT_EQ(pks(with_ready(db, "EXECUTE by_group('{}', 100, '{}', '{}', '{}')")), all);
  // Type a on no host may take 3: its others stay out, those on '' do not.
  auto a_none =
      db.rows("SELECT jq_pk FROM jobqueue WHERE jq_type = 'a' AND jq_host IS NULL" + order);
  ASSERT_EQ(a_none.size(), 10u);
  std::vector<std::string> want;
  for (const auto& pk : all)
    if (std::find(a_none.begin() + 3, a_none.end(), pk) == a_none.end()) want.push_back(pk);
  EXPECT_EQ(want.size(), 53u);
  EXPECT_EQ(pks(with_ready(db, "EXECUTE by_group('{}', 100, '{a}', '{NULL}', '{3}')")), want);
  // The limit takes the first of that order.
  EXPECT_EQ(pks(with_ready(db, "EXECUTE by_group('{}', 7, '{a}', '{NULL}', '{3}')")),
            std::vector<std::string>(want.begin(), want.begin() + 7));
}

// A group that may take one more step, with 20,000 queued: the poll reads it from the index only
// that far, not through its backlog, and finds the step of another type behind it. (Reading the
// queue in jobqueue_ready_idx's order past that backlog touched 60,196 buffers here. Before the
// table's statistics counted the backlog, the planner took jobqueue_ready_idx and sorted, 41,120
// buffers, until the query's predicate was written as jobqueue_group_ready_idx's alone.)
TEST(ReadyQuery, AGroupsBacklogIsNotReadThrough) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  db.query(
      "SELECT count(queue_step(queue_job('a' || g), 'a', 'x')) FROM generate_series(1, 20000) g");
  std::string b = db.query("SELECT queue_step(queue_job('b'), 'b', 'x')");
  // Steps 1-10 of type a wait in memory.
  const std::string run = "EXECUTE by_group('{1,2,3,4,5,6,7,8,9,10}', 48, '{a}', '{NULL}', '{1}')";
  EXPECT_EQ(pks(with_ready(db, run)), (std::vector<std::string>{"11", b}));
  // Before the table's statistics count the backlog (the planner then thinks it holds a row or
  // two), after ANALYZE, and with the generic plan that prepared statements switch to after
  // five runs.
  for (const std::string& before :
       {std::string(), std::string("ANALYZE;"), until_generic_plan(run)})
    expect_a_short_read(db, before, run);
}

TEST(ReadyQuery, TwentyThousandQueuedStepsAreReadInOrderFromTheIndex) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  // 20,000 steps at priority 0, every 1,000th at priority 1; some started, ended or paused;
  // one waits for a prerequisite.
  db.query(
      "SELECT count(queue_step(queue_job('j' || g, NULL, CASE WHEN g % 1000 = 0 THEN 1 ELSE 0 "
      "END), 'a', 'x' || g)) FROM generate_series(1, 20000) g");
  db.query("UPDATE jobqueue SET jq_starttime = now() WHERE jq_pk % 7 = 0");
  db.query("UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = 1 WHERE jq_pk % 11 = 0");
  db.query("UPDATE jobqueue SET jq_endtext = 'Paused' WHERE jq_pk % 13 = 0");
  db.query("INSERT INTO jobdepends VALUES (1, 2)");
  db.query("ANALYZE");
  const std::string held = "'{3, 4, 5}'";  // already in the scheduler's memory
  auto got = with_ready(db, "EXECUTE ready(" + held + ", 48)");
  auto want = db.rows(
      "SELECT jq.jq_pk FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk "
      "WHERE jq_starttime IS NULL AND jq_endtime IS NULL "
      "AND jq_endtext IS DISTINCT FROM 'Paused' AND jq_pk NOT IN (1, 3, 4, 5) "
      "ORDER BY j.job_priority DESC, jq_pk LIMIT 48");
  ASSERT_EQ(got.size(), 48u);
  EXPECT_EQ(pks(got), want);
  // Its plan: the partial index in order, no sort of the queue. Prepared statements switch to
  // a generic plan after five runs; both are checked.
  for (const std::string& before :
       {std::string(), until_generic_plan("EXECUTE ready(" + held + ", 48)")}) {
    auto plan = with_ready(db, before + "EXPLAIN (COSTS OFF) EXECUTE ready(" + held + ", 48)");
    std::string text;
    for (const auto& line : plan) text += line + "\n";
    EXPECT_NE(text.find("Index Scan using jobqueue_ready_idx"), std::string::npos) << text;
    EXPECT_EQ(text.find("Sort"), std::string::npos) << text;
  }
}

// A queue never analyzed (a new database: autovacuum has not come by yet) with a backlog of a
// few thousand steps: the planner expects a row or two in jobqueue_ready_idx. With bitmap scans
// allowed it read that whole index, tested every step's prerequisites and sorted them (5,000
// queued: 10,085 buffers and 18 ms under EXPLAIN ANALYZE), as the scheduler's polls did until
// kPlanner; read in order, a poll touches a few dozen buffers, the custom plan and the generic
// one.
TEST(ReadyQuery, ANeverAnalyzedBacklogIsReadInOrder) {
  test::TempDatabase db;
  install_without_analyze(db);
  db.query(
      "SELECT count(queue_step(queue_job('j'), 'a', 'x' || g)) FROM generate_series(1, 5000) g");
  ASSERT_EQ(db.query("SELECT reltuples < 0 FROM pg_class WHERE relname = 'jobqueue'"), "t");
  std::string held;  // the first 20 are in the scheduler's memory
  for (int i = 1; i <= 20; ++i) held += (held.empty() ? "" : ",") + std::to_string(i);
  const std::string run = "EXECUTE ready('{" + held + "}', 20)";
  auto got = pks(with_ready(db, run));
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got.front(), "21");
  EXPECT_EQ(got.back(), "40");
  for (const std::string& before : {std::string(), until_generic_plan(run)})
    expect_a_short_read(db, before, run);
}

// Statistics taken while every step had ended (null_frac 0 for jq_endtime), then a backlog
// queued before the next ANALYZE: the planner expects a row or two. Before migration 13 the
// plain poll then read jobqueue_unfinished_idx, every queued step, and sorted them.
TEST(ReadyQuery, StatisticsFromAnEndedQueueDoNotMakeAPollReadTheBacklog) {
  test::TempDatabase db;
  install_without_analyze(db);
  db.query(
      "SELECT count(queue_step(queue_job('done'), 'a', 'x' || g)) FROM generate_series(1, 20) g");
  db.query("UPDATE jobqueue SET jq_starttime = now(), jq_endtime = now(), jq_end_bits = 1");
  db.query("ANALYZE jobqueue");
  std::string job = db.query("SELECT queue_job('backlog')");
  db.query("SELECT count(queue_step(" + job + ", 'a', 'y' || g)) FROM generate_series(1, 20000) g");
  const std::string first = db.query("SELECT min(jq_pk) FROM jobqueue WHERE jq_endtime IS NULL");
  // The plain poll, and the group-wise one; each as a custom plan, then as the generic plan
  // that prepared statements switch to after five runs.
  for (const std::string run :
       {"EXECUTE ready('{}', 48)", "EXECUTE by_group('{}', 48, '{a}', '{NULL}', '{1}')"}) {
    SCOPED_TRACE(run);
    auto got = pks(with_ready(db, run));
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front(), first);
    for (const std::string& before : {std::string(), until_generic_plan(run)}) {
      std::string text = expect_a_short_read(db, before, run);
      EXPECT_EQ(text.find("jobqueue_unfinished_idx"), std::string::npos) << text;
    }
  }
}

}  // namespace
