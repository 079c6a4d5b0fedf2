// Agents that need the database, across its restarts and outages (docs/scheduler.md, "When the
// database goes away"): an agent whose session the outage cut fails, but its death does not
// count toward max_failures, and no agent is started while the scheduler's own connection is
// lost. Found by the chaos test (tests/chaos/): steps failed after max_failures although nothing
// was wrong with them. Each test runs a PostgreSQL cluster of its own (PrivateCluster).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#include "private_cluster.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::contains;
using test::count_of;
using test::SchedulerHarness;

// chaos_agent (tests/agents/chaos_agent.cpp) working `work_ms` inside each item's transaction.
test::AgentConf slow_db_agent(int work_ms) {
  test::AgentConf a;
  a.name = "slowdb";
  a.command = test::build_dir() +
              "/tests/agents/chaos_agent/chaos_agent --work-us=" + std::to_string(work_ms * 1000);
  return a;
}

// The agents find the test's database in <conf>/Db.conf; chaos_agent writes chaos_result.
void prepare(SchedulerHarness& h) {
  std::string ci = h.db().conninfo() + " ", text;
  std::erase(ci, '\'');
  for (std::size_t at = 0, sp; (sp = ci.find(' ', at)) != std::string::npos; at = sp + 1)
    if (sp > at) text += ci.substr(at, sp - at) + ";\n";
  std::ofstream(h.conf_dir() + "/Db.conf") << text;
  h.db().query(
      "CREATE TABLE chaos_result (item text, part integer, value text, pid integer, "
      "at timestamptz DEFAULT clock_timestamp())");
}

// The step's log file, read directly (jq_log cannot be read while the database is down).
std::string step_log_file(SchedulerHarness& h, long long jq_pk) {
  std::ifstream in(h.conf_dir() + "/log/jobs/" + std::to_string(jq_pk) + ".log");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

test::SchedulerSettings settings() {
  auto s = test::fast_settings();
  s.heartbeat_timeout = 30;
  s.startup_timeout = 20;
  s.poll_interval = 600;
  s.max_failures = 1;  // one counted death fails the step
  return s;
}

class Outage : public ::testing::Test {
 protected:
  test::PrivateCluster cluster;
};

// PostgreSQL down for 3 s while the agent is inside an item: the agent fails (its session is
// gone), the death is not counted, no agent starts until the database is back, then one does
// and the step completes with max_failures = 1.
TEST_F(Outage, AgentKilledByAnOutageIsNotCountedAndNothingStartsMeanwhile) {
  auto s = settings();
  s.agents = {slow_db_agent(4000)};
  SchedulerHarness h(s, cluster.conninfo());
  prepare(h);
  h.start();
  long long jq = h.queue("slowdb", "item");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t first = test::agent_pid(h, jq);
  cluster.down();
  ASSERT_TRUE(test::eventually([&] { return !test::process_alive(first); }, 20s));
  std::this_thread::sleep_for(3s);  // the outage goes on: nothing may start meanwhile
  EXPECT_EQ(count_of(step_log_file(h, jq), "agent started"), 1) << step_log_file(h, jq);
  cluster.up();
  ASSERT_TRUE(h.wait_ended(jq, 60s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.step_log(jq);
  EXPECT_EQ(count_of(h.step_log(jq), "agent started"), 2) << h.step_log(jq);
  EXPECT_TRUE(contains(h.log(), "JOB[" + test::pk(jq) + "]: agent failure not counted: "))
      << h.log();
  EXPECT_EQ(h.db().query("SELECT count(*) FROM chaos_result"), "2");  // one item, 2 parts
}

// pg_ctl restart while the agent is inside an item: the scheduler may hear of the agent's death
// before it notices that its own connection is gone; the death is not counted either way.
TEST_F(Outage, AgentKilledByARestartIsNotCounted) {
  auto s = settings();
  s.agents = {slow_db_agent(4000)};
  SchedulerHarness h(s, cluster.conninfo());
  prepare(h);
  h.start();
  long long jq = h.queue("slowdb", "item");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  cluster.restart();
  ASSERT_TRUE(h.wait_ended(jq, 60s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.step_log(jq);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM chaos_result"), "2");
}

// After an outage, an agent that fails for its own reasons still counts: the step fails after
// max_failures, with exactly max_failures agents started (a death being confirmed holds back
// the next start).
TEST_F(Outage, AgentsStartedAfterTheOutageStillCount) {
  auto s = settings();
  s.max_failures = 2;
  s.agents = {test::fake_agent("crashy", "--crash-after=0")};
  SchedulerHarness h(s, cluster.conninfo());
  h.start();
  ASSERT_TRUE(test::wait_serving(h));
  cluster.restart();
  ASSERT_TRUE(test::eventually([&] { return contains(h.log(), "database connection back"); }, 30s))
      << h.log();
  long long jq = h.queue("crashy", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "(agents failed 2 times)")) << h.endtext(jq);
  EXPECT_EQ(test::started_pids(h.step_log(jq)).size(), 2u) << h.step_log(jq);
  EXPECT_FALSE(contains(h.log(), "not counted")) << h.log();
}

}  // namespace
