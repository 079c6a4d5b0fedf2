// Misbehaving agents in a real scheduler (SPEC §2, §3): crashes and re-feeding, garbage and
// overlong lines, FATAL, bad exit codes, exiting early, and the fds an agent inherits.
#include <gtest/gtest.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(SchedulerFailure, CrashOnceIsFedAgainToAnotherAgentAndCompletes) {
  TempDir dir;
  std::string record = dir.path() + "/record", mark = dir.path() + "/crashed";
  auto s = fast_settings();
  s.agents = {fake_agent("flaky", "--record=" + record + " --crash-once=" + mark)};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("flaky", "the-line");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.log();
  EXPECT_EQ(h.end_bits(jq), 1);
  EXPECT_EQ(h.items(jq), 1);
  auto rec = records(record);
  ASSERT_EQ(rec.size(), 2u);  // the crashed agent's and its successor's
  EXPECT_EQ(rec[0].line, "the-line");
  EXPECT_EQ(rec[1].line, "the-line");
  EXPECT_NE(rec[0].pid, rec[1].pid);
  EXPECT_TRUE(contains(h.step_log(jq), "SIGSEGV")) << h.step_log(jq);
}

TEST(SchedulerFailure, CrashEveryTimeFailsAfterMaxFailures) {
  TempDir dir;
  auto s = fast_settings();
  s.max_failures = 3;
  s.agents = {fake_agent("crashy", "--crash-after=0")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("crashy", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  std::string text = h.endtext(jq);
  EXPECT_TRUE(contains(text, "SIGSEGV")) << text;
  EXPECT_TRUE(contains(text, "3 times")) << text;
  auto pids = started_pids(h.step_log(jq));
  EXPECT_EQ(pids.size(), 3u) << h.step_log(jq);
  EXPECT_EQ(std::set<long>(pids.begin(), pids.end()).size(), pids.size());
}

TEST(SchedulerFailure, GarbageAndOverlongLinesAreProtocolErrorsAndTheStepCompletes) {
  auto s = fast_settings();
  s.agents = {fake_agent("noisy", "--garbage")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("noisy", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_EQ(h.items(jq), 1);
  std::string step = h.step_log(jq);
  EXPECT_TRUE(contains(step, "protocol error: line longer than")) << step.substr(0, 2000);
  EXPECT_TRUE(contains(h.log(), "protocol error")) << h.log();
  EXPECT_LT(step.size(), 64u * 1024u);  // the 100 KiB line was cut, not logged whole
}

TEST(SchedulerFailure, FatalFailsTheStepWithItsTextAndNoRetry) {
  auto s = fast_settings();
  s.max_failures = 3;
  s.agents = {fake_agent("doomed", "--fatal")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("doomed", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "FATAL")) << h.endtext(jq);
  EXPECT_TRUE(contains(h.endtext(jq), "something broke")) << h.endtext(jq);
  EXPECT_EQ(started_pids(h.step_log(jq)).size(), 1u) << h.step_log(jq);
}

TEST(SchedulerFailure, NonZeroExitCodeFails) {
  auto s = fast_settings();
  s.max_failures = 2;
  s.agents = {fake_agent("sad", "--exit-code=3")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("sad", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "exit code 3")) << h.endtext(jq);
  EXPECT_EQ(started_pids(h.step_log(jq)).size(), 2u) << h.step_log(jq);
}

TEST(SchedulerFailure, ExitZeroBeforeTheEndOfDataFails) {
  auto s = fast_settings();
  s.max_failures = 1;
  s.agents = {fake_agent("quitter", "--exit-early")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("quitter", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "before the end of its data")) << h.endtext(jq);
}

TEST(SchedulerFailure, AgentsInheritOnlyStdinStdoutStderr) {
  auto s = fast_settings();
  s.agents = {fake_agent("fds", "--print-fds")};
  SchedulerHarness h(s);
  h.start();
  // Two at once, so that the second is spawned while the first one's pipes are open.
  long long a = h.queue("fds", "x");
  long long b = h.queue("fds", "y");
  ASSERT_TRUE(h.wait_ended(a, 30s) && h.wait_ended(b, 30s)) << h.log();
  for (long long jq : {a, b}) {
    EXPECT_EQ(h.endtext(jq), "Completed");
    std::string step = h.step_log(jq);
    EXPECT_TRUE(contains(step, "\"fds: 0 1 2\"")) << step;
  }
}

}  // namespace
