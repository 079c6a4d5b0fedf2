// The control interface on a real scheduler (SPEC §7): pause / restart, kill with a message,
// priority, status.
#include <gtest/gtest.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(SchedulerControl, PauseStopsTheAgentWithoutKillingItAndRestartCompletes) {
  auto s = fast_settings();
  s.heartbeat_timeout = 0.5;
  s.agents = {fake_agent("slow", "--heartbeat-ms=100")};
  SchedulerHarness h(s);
  h.start();
  // The agent's line is done once the test says so (its file), after the restart.
  TempDir dir;
  long long jq = queue_held(h, "slow", "x", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t pid = agent_pid(h, jq);
  ASSERT_GT(pid, 0);
  auto reply = h.control("pause " + pk(jq));
  ASSERT_EQ(reply.front(), "received") << joined(reply);
  ASSERT_EQ(reply.back(), "end") << joined(reply);
  EXPECT_TRUE(eventually([&] { return h.endtext(jq) == "Paused"; }, 10s));
  EXPECT_TRUE(eventually([&] { return process_state(pid) == 'T'; }, 5s));
  // Stopped, hence silent, for more than three heartbeat timeouts: it must not be killed.
  EXPECT_FALSE(eventually([&] { return process_state(pid) != 'T'; }, 1600ms));
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  reply = h.control("restart " + pk(jq));
  ASSERT_EQ(reply.back(), "end") << joined(reply);
  EXPECT_EQ(joined(reply).find("ERROR"), std::string::npos) << joined(reply);
  let_go(dir.path() + "/go");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_EQ(h.items(jq), 1);
  std::string step = h.step_log(jq);
  EXPECT_TRUE(contains(step, "Paused") && contains(step, "Restarted")) << step;
  EXPECT_EQ(started_pids(step).size(), 1u) << step;  // the same agent went on
}

TEST(SchedulerControl, KillWithAMessage) {
  HangingStep step;
  auto& h = step.h;
  long long jq = step.jq;
  ASSERT_TRUE(step.pid > 0) << h.log();
  pid_t pid = step.pid;
  auto reply = h.control("kill " + pk(jq) + " \"user asked\"");
  EXPECT_EQ(joined(reply), "received\nend\n");
  ASSERT_TRUE(h.wait_ended(jq, 10s));
  EXPECT_EQ(h.endtext(jq), "killed: user asked");
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, 10s));
  // A second kill of the ended step is still answered (and changes nothing).
  reply = h.control("kill " + pk(jq) + " again");
  EXPECT_EQ(reply.back(), "end");
  EXPECT_EQ(h.endtext(jq), "killed: user asked");
}

TEST(SchedulerControl, PriorityReordersWaitingSteps) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  auto s = fast_settings();
  s.agents = {fake_agent("one", "--record=" + record, 1)};
  SchedulerHarness h(s);
  h.start();
  // The blocker holds the type's one slot until the priority has changed (its file).
  long long blocker = queue_held(h, "one", "blocker", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(blocker, 30s));
  long long a = h.queue("one", "a");
  long long b = h.queue("one", "b");
  ASSERT_TRUE(eventually([&] { return contains(h.log(), "JOB[" + pk(b) + "] taken"); }, 10s));
  auto reply = h.control("priority " + pk(b) + " 10");
  EXPECT_EQ(joined(reply), "received\nend\n");
  EXPECT_EQ(h.db().query("SELECT job_priority FROM job JOIN jobqueue ON jq_job_fk = job_pk "
                         "WHERE jq_pk = " +
                         pk(b)),
            "10");
  let_go(dir.path() + "/go");
  ASSERT_TRUE(h.wait_ended(a, 30s) && h.wait_ended(b, 30s)) << h.log();
  std::vector<std::string> order;
  for (const auto& r : records(record)) order.push_back(r.line);
  EXPECT_EQ(order, (std::vector<std::string>{"blocker", "b", "a"}));
}

TEST(SchedulerControl, StatusListsTheStepAndItsAgent) {
  HangingStep step;
  auto& h = step.h;
  long long jq = step.jq;
  ASSERT_TRUE(step.pid > 0) << h.log();
  pid_t pid = step.pid;
  std::string all = joined(h.control("status"));
  EXPECT_TRUE(contains(all, "job:" + pk(jq) + " status:JOB_STARTED type:hang")) << all;
  std::string one = joined(h.control("status " + pk(jq)));
  EXPECT_TRUE(contains(one, "agent:" + std::to_string(pid) + " host:localhost type:hang")) << one;
  std::string bad = joined(h.control("status 999999"));
  EXPECT_TRUE(contains(bad, "ERROR")) << bad;
  EXPECT_TRUE(contains(joined(h.control("frobnicate")), "Invalid command"));
}

}  // namespace
