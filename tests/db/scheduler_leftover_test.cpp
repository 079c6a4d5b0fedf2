// Crash recovery kills the agents a SIGKILLed scheduler left behind (scheduler/recovery.cpp):
// agents that would not end by themselves (one hangs, ignoring its stdin's end; one was paused,
// SIGSTOPped, when its scheduler died) are recognised by their /proc/<pid>/cmdline, which
// carries --jqId=<jq_pk>, and killed with their process group. Found checking the chaos test's
// "agents left" figure (tests/chaos/).
#include <gtest/gtest.h>

#include <thread>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

SchedulerSettings settings() {
  auto s = fast_settings();
  s.heartbeat_timeout = 60;
  s.agents = {fake_agent("hang", "--hang")};
  return s;
}

std::string killed_line(pid_t pid) {
  return "killing agent process group " + std::to_string(pid) + " left by a previous scheduler";
}

TEST(SchedulerLeftover, HangingAgentOfAKilledSchedulerIsKilledAndItsStepRunsAgain) {
  SchedulerHarness h(settings());
  h.start();
  long long jq = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t old_agent = agent_pid(h, jq);
  ASSERT_GT(old_agent, 0);
  ASSERT_TRUE(eventually([&] { return running_agents(h, jq).size() == 1; }, 30s)) << h.log();
  h.stop(SIGKILL);
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(process_alive(old_agent));  // it hangs: it will not go by itself
  h.start();
  EXPECT_TRUE(eventually([&] { return !process_alive(old_agent); }, 10s));
  EXPECT_TRUE(contains(h.log(), killed_line(old_agent))) << h.log();
  ASSERT_TRUE(
      eventually([&] { return agent_pid(h, jq) != 0 && agent_pid(h, jq) != old_agent; }, 30s))
      << h.log();
  EXPECT_EQ(h.endtext(jq), "Started");
}

// A paused step stays paused across the crash (only --reset or `restart` releases it), but its
// stopped agent cannot go on for the new scheduler: it is killed as well.
TEST(SchedulerLeftover, StoppedAgentOfAPausedStepIsKilledAndTheStepStaysPaused) {
  SchedulerHarness h(settings());
  h.start();
  long long jq = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t old_agent = agent_pid(h, jq);
  ASSERT_GT(old_agent, 0);
  ASSERT_EQ(h.control("pause " + pk(jq)).back(), "end");
  ASSERT_TRUE(eventually([&] { return h.endtext(jq) == "Paused"; }, 10s));
  ASSERT_TRUE(eventually([&] { return process_state(old_agent) == 'T'; }, 10s));
  h.stop(SIGKILL);
  h.start();
  ASSERT_TRUE(wait_serving(h));
  EXPECT_TRUE(eventually([&] { return !process_alive(old_agent); }, 10s))
      << "state " << process_state(old_agent) << "\n"
      << h.log();
  EXPECT_EQ(h.endtext(jq), "Paused");
  ASSERT_EQ(h.control("restart " + pk(jq)).back(), "end");
  ASSERT_TRUE(
      eventually([&] { return agent_pid(h, jq) != 0 && agent_pid(h, jq) != old_agent; }, 30s))
      << h.log();
}

// An SQL-fed step runs several agents at once; jq_schedinfo names only one of them. Agents
// that hang (they ignore the end of their stdin) outlive a SIGKILLed scheduler: the next one
// kills every one of them, found in /proc, not just the one jq_schedinfo names. (The chaos test
// once ended with one agent left; recovery used to kill the schedinfo pid only.)
TEST(SchedulerLeftover, EveryHangingAgentOfAnSqlFedStepIsKilled) {
  auto s = settings();
  s.hosts.front().max = 2;
  SchedulerHarness h(s);
  h.start();
  SchedulerHarness::Step step;
  step.type = "hang";
  step.args = "SELECT g AS id FROM generate_series(1, 10) g";
  step.runonpfile = "id";
  long long jq = h.queue(step);
  // Both have said OK: an agent still starting would die of SIGPIPE with the scheduler.
  std::vector<pid_t> agents;
  ASSERT_TRUE(eventually(
      [&] {
        agents = running_agents(h, jq);
        return agents.size() == 2;
      },
      30s))
      << h.log();
  h.stop(SIGKILL);
  std::this_thread::sleep_for(500ms);
  for (pid_t a : agents) ASSERT_TRUE(process_alive(a)) << a;  // they will not go by themselves
  h.start();
  for (pid_t a : agents) {
    EXPECT_TRUE(eventually([&] { return !process_alive(a); }, 10s)) << a << "\n" << h.log();
    EXPECT_TRUE(eventually([&] { return contains(h.log(), killed_line(a)); }, 10s)) << h.log();
  }
}

}  // namespace
