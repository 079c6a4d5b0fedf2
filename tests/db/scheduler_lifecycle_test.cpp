// The agent lifecycle in a real scheduler (SPEC §3): a good step, the startup and heartbeat
// timeouts, NOKILL, the SIGTERM → SIGKILL escalation and process-group kills.
#include <gtest/gtest.h>

#include <filesystem>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(SchedulerLifecycle, GoodStepCompletesWithItemsAndLog) {
  auto s = fast_settings();
  s.agents = {fake_agent("good", "--ok --flood=2")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("good", "hello");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_EQ(h.end_bits(jq), 1);
  EXPECT_EQ(h.items(jq), 1);
  EXPECT_EQ(h.column(jq, "jq_schedinfo"), "");
  EXPECT_EQ(h.db().query("SELECT jq_starttime <= jq_endtime FROM jobqueue WHERE jq_pk = " +
                         std::to_string(jq)),
            "t");
  std::string path = h.column(jq, "jq_log");
  ASSERT_FALSE(path.empty());
  std::string step = h.step_log(jq);
  EXPECT_TRUE(contains(step, "Started")) << step;
  EXPECT_EQ(started_pids(step).size(), 1u) << step;
  EXPECT_TRUE(contains(step, "flood 0\"")) << step;  // the agent's own LOG lines
  EXPECT_TRUE(contains(step, "flood 1\"")) << step;
  EXPECT_TRUE(contains(step, "Completed")) << step;
  EXPECT_TRUE(contains(h.log(), "JOB[" + std::to_string(jq) + "] completed")) << h.log();
}

// At the packaged verbosity (no -v) a step's log holds what its agents print and what went
// wrong, not the scheduler's notes: a step that ends cleanly without a word has no file.
TEST(SchedulerLifecycle, AtTheDefaultVerbosityOnlyAStepWithSomethingToSayHasALogFile) {
  auto s = fast_settings();
  s.verbose = std::nullopt;
  s.max_failures = 1;
  s.agents = {fake_agent("quiet", "--ok"), fake_agent("talks", "--ok --flood=1"),
              fake_agent("fails", "--ok --exit-code=3")};
  SchedulerHarness h(s);
  h.start();
  long long quiet = h.queue("quiet", "a");
  long long talks = h.queue("talks", "b");
  long long fails = h.queue("fails", "c");
  for (long long jq : {quiet, talks, fails}) ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(quiet), "Completed");
  EXPECT_EQ(h.endtext(talks), "Completed");
  EXPECT_EQ(h.end_bits(fails), 2) << h.endtext(fails);
  const std::vector<std::string> notes = {"agent started: JOB[", "Started", "exited cleanly",
                                          "Completed"};
  std::string path = h.column(quiet, "jq_log");
  ASSERT_FALSE(path.empty());  // where its lines would go
  EXPECT_FALSE(std::filesystem::exists(path)) << h.step_log(quiet);
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::path(path).parent_path()));
  std::string said = h.step_log(talks);
  EXPECT_TRUE(contains(said, "JOB[" + pk(talks) + "].talks[")) << said;
  EXPECT_TRUE(contains(said, "flood 0\"")) << said;
  for (const auto& note : notes) EXPECT_FALSE(contains(said, note)) << note << " in " << said;
  std::string failed = h.step_log(fails);
  EXPECT_TRUE(contains(failed, "WARNING: JOB[" + pk(fails) + "].fails[")) << failed;
  EXPECT_TRUE(contains(failed, "\"failed: exited with exit code 3")) << failed;
  EXPECT_TRUE(contains(failed, "ERROR: Failed: exited with exit code 3")) << failed;
  EXPECT_FALSE(contains(failed, "Started")) << failed;
  EXPECT_FALSE(contains(h.log(), "NOTE: ")) << h.log();
  // `verbose 1` at run time brings the notes back, in the step log as in the main log.
  ASSERT_FALSE(h.control("verbose 1").empty());
  long long later = h.queue("quiet", "d");
  ASSERT_TRUE(h.wait_ended(later, 30s)) << h.log();
  std::string noted = h.step_log(later);
  for (const auto& note : notes) EXPECT_TRUE(contains(noted, note)) << note << " not in " << noted;
  EXPECT_TRUE(contains(h.log(), "JOB[" + pk(later) + "] completed")) << h.log();
}

TEST(SchedulerLifecycle, NoOkIsKilledAtTheStartupTimeoutAndFailsAfterMaxFailures) {
  auto s = fast_settings();
  s.startup_timeout = 0.5;
  s.max_failures = 2;
  s.agents = {fake_agent("mute", "--no-ok")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("mute", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  std::string text = h.endtext(jq);
  EXPECT_TRUE(contains(text, "startup_timeout")) << text;
  EXPECT_TRUE(contains(text, "2 times")) << text;
  EXPECT_EQ(h.column(jq, "jq_starttime"), "");  // never said OK
  auto log = h.log();
  auto pids = numbers(log, R"(JOB\[\d+\]\.mute\[(\d+)\.localhost\]: started)");
  ASSERT_EQ(pids.size(), 2u) << log;
  for (long pid : pids) EXPECT_FALSE(process_alive(static_cast<pid_t>(pid)));
  EXPECT_TRUE(contains(log, "SIGKILL")) << log;
}

TEST(SchedulerLifecycle, SilentAgentIsKilledAtTheHeartbeatTimeout) {
  auto s = fast_settings();
  s.heartbeat_timeout = 1;
  s.max_failures = 1;
  s.agents = {fake_agent("silent", "--no-heartbeat")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("silent", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t pid = agent_pid(h, jq);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "heartbeat_timeout")) << h.endtext(jq);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, 10s));
}

TEST(SchedulerLifecycle, NokillAgentSurvivesSilenceUntilKilledByCommand) {
  auto s = fast_settings();
  s.heartbeat_timeout = 0.5;
  s.agents = {fake_agent("patient", "--hang", -1, "NOKILL")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("patient", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t pid = agent_pid(h, jq);
  ASSERT_GT(pid, 0);
  // Silent for more than three heartbeat timeouts: a NOKILL agent must still be there.
  EXPECT_FALSE(eventually(
      [&] { return !process_alive(pid) || !h.column(jq, "jq_endtime").empty(); }, 1600ms));
  EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(h.endtext(jq), "Started");
  auto reply = h.control("kill " + std::to_string(jq) + " \"enough waiting\"");
  ASSERT_FALSE(reply.empty());
  EXPECT_EQ(reply.front(), "received") << joined(reply);
  EXPECT_EQ(reply.back(), "end") << joined(reply);
  ASSERT_TRUE(h.wait_ended(jq, 30s));
  EXPECT_EQ(h.endtext(jq), "killed: enough waiting");
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, 10s));
}

TEST(SchedulerLifecycle, AgentIgnoringTermGetsKillAfterTheGrace) {
  auto s = fast_settings();
  s.kill_grace = 0.5;
  s.heartbeat_timeout = 30;
  s.agents = {fake_agent("stubborn", "--ignore-term")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("stubborn", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  pid_t pid = agent_pid(h, jq);
  ASSERT_GT(pid, 0);
  auto t0 = std::chrono::steady_clock::now();
  auto reply = h.control("kill " + std::to_string(jq) + " stop");
  ASSERT_EQ(reply.back(), "end") << joined(reply);
  ASSERT_TRUE(eventually([&] { return !process_alive(pid); }, 10s));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 450ms);  // SIGTERM was ignored: only SIGKILL, kill_grace later, ended it
  ASSERT_TRUE(h.wait_ended(jq, 10s));
  EXPECT_EQ(h.endtext(jq), "killed: stop");
  EXPECT_TRUE(contains(h.log(), "SIGKILL")) << h.log();
}

TEST(SchedulerLifecycle, GrandchildIsKilledWithTheGroup) {
  auto s = fast_settings();
  s.agents = {fake_agent("parent", "--grandchild --then=hang")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("parent", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  std::vector<long> grandchildren;
  ASSERT_TRUE(eventually(
      [&] {
        grandchildren = numbers(h.step_log(jq), R"(grandchild (\d+))");
        return !grandchildren.empty();
      },
      10s))
      << h.step_log(jq);
  auto gc = static_cast<pid_t>(grandchildren.front());
  pid_t pid = agent_pid(h, jq);
  EXPECT_TRUE(process_alive(gc));
  h.control("kill " + std::to_string(jq) + " \"group test\"");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "killed: group test");
  EXPECT_TRUE(eventually([&] { return !process_alive(gc) && !process_alive(pid); }, 10s))
      << "grandchild " << gc << " survived";
}

}  // namespace
