// Bad steps fail alone, saying why (SPEC §10): jq_args that cannot be one data line (also while
// every slot is taken), a query row too long to send, and an agent's own last ERROR in the failed
// step's jq_endtext. The steps queued beside them complete.
#include <gtest/gtest.h>

#include <string>

#include "feed_test_util.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::contains;
using test::SchedulerHarness;

TEST(SchedulerBadSteps, JqArgsThatCannotBeOneLineFailTheStepWithoutStartingAnAgent) {
  auto s = test::fast_settings();
  s.agents = {test::fake_agent("ok")};
  SchedulerHarness h(s);
  h.start();
  long long newline = h.queue("ok", "first\nsecond");
  long long huge = h.queue("ok", std::string(70'000, 'x'));
  long long good = h.queue("ok", "fine");
  for (long long pk : {newline, huge, good}) ASSERT_TRUE(h.wait_ended(pk, 30s)) << h.log();
  EXPECT_EQ(h.endtext(newline),
            "jq_args cannot be sent as one data line: it holds a newline at byte 5");
  EXPECT_EQ(h.endtext(huge),
            "jq_args cannot be sent as one data line: it is 70000 bytes, over the limit of 65536");
  for (long long pk : {newline, huge}) {
    EXPECT_EQ(h.end_bits(pk), 2) << pk;
    EXPECT_EQ(h.column(pk, "jq_starttime"), "") << pk;
  }
  EXPECT_EQ(h.endtext(good), "Completed");
  EXPECT_EQ(h.items(good), 1);
}

// The dispatcher checks a step once and, while every slot is taken, looks only at steps not yet
// checked: a bad step still fails at once, not when a slot frees.
TEST(SchedulerBadSteps, ABadStepFailsAtOnceWhileEverySlotIsTaken) {
  auto s = test::fast_settings();
  s.heartbeat_timeout = 30;
  s.hosts[0].max = 1;
  s.agents = {test::fake_agent("hang", "--hang"), test::fake_agent("ok")};
  SchedulerHarness h(s);
  h.start();
  long long busy = h.queue("hang", "x");
  ASSERT_TRUE(test::eventually([&] { return !test::running_agents(h, busy).empty(); }, 30s))
      << h.log();
  long long waiting = h.queue("ok", "later");
  long long bad = h.queue("ok", "first\nsecond");
  ASSERT_TRUE(h.wait_ended(bad, 30s)) << h.log();
  EXPECT_EQ(h.endtext(bad),
            "jq_args cannot be sent as one data line: it holds a newline at byte 5");
  EXPECT_EQ(h.column(busy, "jq_endtime"), "");
  EXPECT_EQ(h.column(waiting, "jq_starttime"), "");
  h.control("kill " + test::pk(busy) + " \"done\"");
  ASSERT_TRUE(h.wait_ended(waiting, 30s)) << h.log();
  EXPECT_EQ(h.endtext(waiting), "Completed");
}

TEST(SchedulerBadSteps, AQueryRowTooLongToSendFailsTheStep) {
  test::TempDir dirs;
  test::feed::make_agentdirs(dirs.path(), {"localhost"});
  auto s = test::fast_settings();
  s.hosts = {{"localhost", "localhost", dirs.path() + "/localhost", 2}};
  s.agents = {test::feed::row_agent()};
  SchedulerHarness h(s);
  test::feed::make_tables(h.db(), 3);
  h.start();
  auto step = test::feed::sql_step("SELECT id, k, repeat('x', 70000) AS big FROM items",
                                   test::feed::results_args(h.db()));
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 30s)) << h.log();
  EXPECT_TRUE(contains(h.endtext(pk), "a row line cannot be sent as one data line: it is "))
      << h.endtext(pk);
  EXPECT_TRUE(contains(h.endtext(pk), "bytes, over the limit of 65536")) << h.endtext(pk);
  EXPECT_EQ(h.end_bits(pk), 2);
}

TEST(SchedulerBadSteps, AFailedStepCarriesTheAgentsLastError) {
  auto s = test::fast_settings();
  test::AgentConf sh;
  sh.name = "complains";
  sh.command =
      "/bin/sh -c 'echo OK; read line; echo \"ERROR: first problem\"; echo \"ERROR: cannot open "
      "/nonexistent\"; exit 3'";
  s.agents = {sh, test::fake_agent("ok")};
  SchedulerHarness h(s);
  h.start();
  long long bad = h.queue("complains", "x");
  long long good = h.queue("ok", "y");
  for (long long pk : {bad, good}) ASSERT_TRUE(h.wait_ended(pk, 30s)) << h.log();
  EXPECT_EQ(
      h.endtext(bad),
      "exited with exit code 3 (agents failed 3 times); last ERROR: cannot open /nonexistent");
  EXPECT_EQ(h.endtext(good), "Completed");
}

}  // namespace
