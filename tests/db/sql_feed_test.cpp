// SQL-fed steps on local hosts (SPEC §5.2, docs/feeding.md): routing of 10,000 rows to three
// hosts, each row processed exactly once; re-runs until no new row; a query that returns the
// same rows forever ends with a warning; failing queries fail the step; JQ_SUBS values are
// literals; DB: on its own connection, refused without allow_db; the rows to do are counted
// once (jq_itemsknown); each row of the query is computed once a run.
#include <gtest/gtest.h>

#include <string>

#include "feed_test_util.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::SchedulerHarness;
using test::SchedulerSettings;

class SqlFeed : public ::testing::Test {
 protected:
  // Three local hosts h1..h3 (2 agents each) with the ranges of feed_test_util.hpp.
  SchedulerSettings settings() {
    SchedulerSettings s;
    s.hosts.clear();
    for (const char* h : {"h1", "h2", "h3"})
      s.hosts.push_back({h, "localhost", dirs.path() + "/" + h, 2});
    s.repository.assign(std::begin(test::feed::kRanges), std::end(test::feed::kRanges));
    s.agents = {test::feed::row_agent(),
                test::fake_agent("dbagent", "--db='SHOW statement_timeout'"),
                test::fake_agent("nodb", "--db='SELECT 1 AS one'")};
    s.agents[1].allow_db = true;
    s.poll_interval = 5;
    return s;
  }
  void SetUp() override { test::feed::make_agentdirs(dirs.path(), {"h1", "h2", "h3"}); }

  test::TempDir dirs;
};

TEST_F(SqlFeed, TenThousandRowsLandOnTheirHostsExactlyOnce) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 10000);
  h.start();
  auto step = test::feed::sql_step("SELECT id, k FROM items",
                                   test::feed::results_args(h.db(), "--window=32"));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 120s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed") << h.step_log(pk);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "10000");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "10000");
  EXPECT_EQ(h.db().query("SELECT count(*) FROM items i LEFT JOIN feed_seen s "
                         "ON s.item = i.id::text WHERE s.item IS NULL"),
            "0");
  // Every row on the host its key's range names; and each host did its share.
  EXPECT_EQ(h.db().query(std::string("SELECT count(*) FROM items i JOIN feed_seen s ON s.item = "
                                     "i.id::text WHERE s.host <> ") +
                         test::feed::kExpectedHost),
            "0");
  auto per_host = h.db().rows("SELECT host, count(*) FROM feed_seen GROUP BY host ORDER BY host");
  auto expected = h.db().rows(std::string("SELECT ") + test::feed::kExpectedHost +
                              " AS host, count(*) FROM items GROUP BY 1 ORDER BY 1");
  EXPECT_EQ(per_host, expected);
  EXPECT_EQ(per_host.size(), 3u);
  EXPECT_EQ(h.items(pk), 10000);
  // Counted once, after the first FETCH of 1,000 rows (jq_itemsknown, for progress and ETA).
  EXPECT_EQ(h.db().query("SELECT jq_itemsknown FROM jobqueue WHERE jq_pk = " + std::to_string(pk)),
            "10000");
}

TEST_F(SqlFeed, LimitQueryRunsAgainUntilNoNewRow) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 2000);
  h.start();
  auto step = test::feed::sql_step(
      "SELECT id, k FROM items WHERE id::text NOT IN "
      "(SELECT item FROM feed_result) ORDER BY id LIMIT 500",
      test::feed::results_args(h.db(), "--window=8"));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 120s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed");
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "2000");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "2000");
  EXPECT_EQ(h.step_log(pk).find("already fed"), std::string::npos) << h.step_log(pk);
}

// Each row of the query is computed once a run (docs/feeding.md): its hash, the check against
// the rows fed already and the row fed all use the row as computed, not the query's expressions
// evaluated again. A function in the query counts its calls: 300 rows, all fed by the first run,
// then the second run returns them again and feeds none, which ends the step.
TEST_F(SqlFeed, EachRowOfTheQueryIsComputedOnceARun) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 300);
  h.db().query(
      "CREATE SEQUENCE calls; CREATE FUNCTION counted(t text) RETURNS text LANGUAGE plpgsql "
      "STABLE AS $$ BEGIN PERFORM nextval('calls'); RETURN t; END $$");
  h.start();
  auto step = test::feed::sql_step("SELECT id, counted(k) AS k FROM items",
                                   test::feed::results_args(h.db()));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "300");
  EXPECT_EQ(h.db().query("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM calls"),
            "600");
}

// Identical rows of one FETCH are fed once (docs/feeding.md, item 5), however far apart: each
// of 20 rows comes three times, 20 rows apart, in one batch.
TEST_F(SqlFeed, IdenticalRowsOfOneFetchAreFedOnce) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 20);
  h.start();
  auto step = test::feed::sql_step(
      "SELECT id, k FROM items CROSS JOIN generate_series(1, 3) g ORDER BY g, id",
      test::feed::results_args(h.db()));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed");
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "20");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "20");
}

TEST_F(SqlFeed, SameRowsForeverEndWithAWarning) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 100);
  h.start();
  auto step = test::feed::sql_step("SELECT id, k FROM items WHERE id <= 10",
                                   test::feed::results_args(h.db()));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed");
  EXPECT_EQ(h.end_bits(pk), 1);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "10");
  EXPECT_NE(h.step_log(pk).find("all already fed in this step"), std::string::npos)
      << h.step_log(pk);
}

TEST_F(SqlFeed, EmptyResultCompletes) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 10);
  h.start();
  auto step =
      test::feed::sql_step("SELECT id, k FROM items WHERE false", test::feed::results_args(h.db()));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed");
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "0");
  EXPECT_EQ(h.db().query("SELECT jq_itemsknown FROM jobqueue WHERE jq_pk = " + std::to_string(pk)),
            "0");  // the first FETCH drained the cursor: known without a count
}

TEST_F(SqlFeed, FailingQueriesFailTheStepWithPostgresMessage) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 10);
  h.start();
  auto bad = test::feed::sql_step("SELEKT id, k FROM items", test::feed::results_args(h.db()));
  long long syntax = h.queue(bad);
  auto nocol = test::feed::sql_step("SELECT id FROM items", test::feed::results_args(h.db()));
  long long missing = h.queue(nocol);
  // The scheduler's own column of each row's hash, last in the cursor, is not the step's.
  auto ours = test::feed::sql_step("SELECT id, k FROM items", test::feed::results_args(h.db()),
                                   "jobline_hash");
  long long hash = h.queue(ours);
  auto runtime = test::feed::sql_step("SELECT id, k, 1 / (id - 5) AS boom FROM items",
                                      test::feed::results_args(h.db()));
  long long division = h.queue(runtime);
  for (long long pk : {syntax, missing, hash, division})
    ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(syntax).rfind("query failed: ERROR:  syntax error at or near \"SELEKT\"", 0),
            0u)
      << h.endtext(syntax);
  EXPECT_EQ(h.endtext(missing), "query failed: its result has no column \"k\" (jq_runonpfile)");
  EXPECT_EQ(h.endtext(hash),
            "query failed: its result has no column \"jobline_hash\" (jq_runonpfile)");
  EXPECT_EQ(h.endtext(division).rfind("query failed: ERROR:  division by zero", 0), 0u)
      << h.endtext(division);
  for (long long pk : {syntax, missing, hash, division}) EXPECT_EQ(h.end_bits(pk), 2);
}

TEST_F(SqlFeed, JqSubsValuesAreLiteralsNotSql) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 10);
  h.db().query(
      "UPDATE items SET label = '1; DROP TABLE jobqueue; --' WHERE id = 3;"
      "UPDATE items SET label = 'O''Brien' WHERE id = 7");
  h.start();
  auto step = test::feed::sql_step(
      "SELECT id, k FROM items WHERE label IN ($x, $who)",
      test::feed::results_args(h.db(),
                               "'--subs=$x=1; DROP TABLE jobqueue; --' \"--subs=\\$who=O'Brien\""));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed") << h.step_log(pk);
  EXPECT_EQ(h.db().rows("SELECT item FROM feed_seen ORDER BY item"),
            (std::vector<std::string>{"3", "7"}));
  EXPECT_EQ(h.db().query("SELECT to_regclass('jobqueue') IS NOT NULL"), "t");
}

TEST_F(SqlFeed, DbRunsOnItsOwnConnectionWithATimeoutAndOnlyWhenAllowed) {
  SchedulerHarness h(settings());
  h.start();
  long long allowed = h.queue("dbagent", "x");
  long long refused = h.queue("nodb", "x");
  ASSERT_TRUE(h.wait_ended(allowed, 60s)) << h.log();
  ASSERT_TRUE(h.wait_ended(refused, 60s)) << h.log();
  std::string log = h.step_log(allowed);
  EXPECT_NE(log.find("db: DBSTART"), std::string::npos) << log;
  EXPECT_NE(log.find("db: statement_timeout='30s'"), std::string::npos) << log;
  EXPECT_NE(log.find("db: DBEOF"), std::string::npos) << log;
  std::string refused_log = h.step_log(refused);
  EXPECT_NE(refused_log.find("db: DBERROR not permitted"), std::string::npos) << refused_log;
  EXPECT_EQ(refused_log.find("one="), std::string::npos) << refused_log;
}

}  // namespace
