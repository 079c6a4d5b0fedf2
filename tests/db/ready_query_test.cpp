// The scheduler's ready-step query (queue_sql.hpp) against the real schema: steps carry their
// job's priority (migration 9) and the query reads them in order from jobqueue_ready_idx, so a
// poll with 20,000 steps queued neither sorts nor reads them all.
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

// The ready query prepared as `ready`, then `then` in the same session.
std::vector<std::string> with_ready(const test::TempDatabase& db, const std::string& then) {
  return db.rows(std::string("PREPARE ready(int[], int, text[], text[], int[], int[]) AS ") +
                 sched::sql::kReadySteps + ";" + then);
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
  auto ready = with_ready(db, "EXECUTE ready('{}', 10, '{}', '{}', '{}', '{}')");
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].substr(0, ready[0].find('|')), high);
  EXPECT_EQ(ready[1].substr(0, ready[1].find('|')), low);
}

// $3-$6: a group (a type and a jq_host, NULL for none) with as many steps in memory as it may
// have, and the priority and jq_pk of the last of them. Its steps that rank after that one are
// left out, one that ranks before it still comes, and the steps behind (of other groups) come
// back in order; a name is matched whole.
TEST(ReadyQuery, StepsRankingAfterAFullGroupsLastAreLeftOut) {
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
  auto ready = [&](const std::string& args) {
    auto rows = with_ready(db, "EXECUTE ready('{}', " + args + ")");
    for (auto& row : rows) row = row.substr(0, row.find('|'));
    return rows;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ready("3, '{}', '{}', '{}', '{}'"), (V{high, "1", "2"}));
  // Type a on no host full, its last step in memory the one of jq_pk 2 at priority 0: 3, 4 and
  // 5 stay out; a's steps pinned to a host are another group.
  EXPECT_EQ(ready("20, '{a}', '{NULL}', '{0}', '{2}'"),
            (V{high, "1", "2", b1, q, b2, far1, far2, near}));
  EXPECT_EQ(ready(R"(20, '{a,"we\"ird\\"}', '{NULL,NULL}', '{0,0}', '{0,0}')"),
            (V{high, b1, b2, far1, far2, near}));
  EXPECT_EQ(ready("20, '{we}', '{NULL}', '{0}', '{0}'"),
            (V{high, "1", "2", "3", "4", "5", b1, q, b2, far1, far2, near}));
  // Type a on host far full after its first step: the second stays out, nothing else does.
  EXPECT_EQ(ready("20, '{a}', '{far}', '{0}', '{" + far1 + "}'"),
            (V{high, "1", "2", "3", "4", "5", b1, q, b2, far1, near}));
  // Both groups of a full at once: only what ranks before their last steps comes.
  EXPECT_EQ(ready("20, '{a,a}', '{NULL,far}', '{0,0}', '{1,0}'"), (V{high, "1", b1, q, b2, near}));
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
  auto got = with_ready(db, "EXECUTE ready(" + held + ", 48, '{}', '{}', '{}', '{}')");
  auto want = db.rows(
      "SELECT jq.jq_pk FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk "
      "WHERE jq_starttime IS NULL AND jq_endtime IS NULL "
      "AND jq_endtext IS DISTINCT FROM 'Paused' AND jq_pk NOT IN (1, 3, 4, 5) "
      "ORDER BY j.job_priority DESC, jq_pk LIMIT 48");
  ASSERT_EQ(got.size(), 48u);
  for (auto& row : got) row = row.substr(0, row.find('|'));
  EXPECT_EQ(got, want);
  // Its plan: the partial index in order, no sort of the queue. Prepared statements switch to
  // a generic plan after five runs; both are checked.
  std::string runs;
  for (int i = 0; i < 6; ++i) runs += "EXECUTE ready(" + held + ", 48, '{}', '{}', '{}', '{}');";
  for (const std::string& before : {std::string(), runs}) {
    auto plan = with_ready(
        db, before + "EXPLAIN (COSTS OFF) EXECUTE ready(" + held + ", 48, '{}', '{}', '{}', '{}')");
    std::string text;
    for (const auto& line : plan) text += line + "\n";
    EXPECT_NE(text.find("Index Scan using jobqueue_ready_idx"), std::string::npos) << text;
    EXPECT_EQ(text.find("Sort"), std::string::npos) << text;
  }
}

}  // namespace
