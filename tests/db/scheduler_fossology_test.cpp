// FOSSology's agent dialect on a real scheduler (SPEC §2.2): VERSION/OK/HEART/BYE.
#include <gtest/gtest.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(SchedulerFossology, FossologyAgentRunsAStep) {
  auto s = fast_settings();
  s.agents = {fake_agent("foss", "--fossology")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("foss", "42");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_EQ(h.end_bits(jq), 1);
  EXPECT_EQ(h.items(jq), 1);  // from HEART: 1 1
  EXPECT_TRUE(contains(h.step_log(jq), "VERSION: fake")) << h.step_log(jq);
}

TEST(SchedulerFossology, FossologyAgentPassesTheSelfTest) {
  auto s = fast_settings();
  s.agents = {fake_agent("foss", "--fossology")};
  SchedulerHarness h(s);
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "-t"});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_TRUE(contains(r.output, "PASS foss on localhost")) << r.output;
}

TEST(SchedulerFossology, ExitWithoutByeFails) {
  auto s = fast_settings();
  s.max_failures = 1;
  s.agents = {fake_agent("foss", "--fossology --no-bye")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("foss", "42");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "without BYE")) << h.endtext(jq);
}

TEST(SchedulerFossology, ByeWithNonZeroCodeFails) {
  auto s = fast_settings();
  s.max_failures = 1;
  s.agents = {fake_agent("foss", "--fossology --bye=3")};
  SchedulerHarness h(s);
  h.start();
  long long jq = h.queue("foss", "42");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "BYE 3")) << h.endtext(jq);
}

}  // namespace
