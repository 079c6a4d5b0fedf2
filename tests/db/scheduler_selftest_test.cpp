// `scheduler -t` and `-T` (SPEC §6): one line per agent type and host, the exit code, and -T
// going on to run as usual when every type passes.
#include <gtest/gtest.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

SchedulerSettings two_hosts() {
  auto s = fast_settings();
  s.startup_timeout = 0.5;
  s.hosts = {HostConf{"alpha", "localhost", "", 4}, HostConf{"beta", "localhost", "", 4}};
  return s;
}

TEST(SchedulerSelfTest, AllPassPrintsOneLinePerTypeAndHostAndExitsZero) {
  auto s = two_hosts();
  s.agents = {fake_agent("a"), fake_agent("b", "--heartbeat-ms=50")};
  SchedulerHarness h(s);
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "-t"});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  for (std::string line :
       {"PASS a on alpha", "PASS a on beta", "PASS b on alpha", "PASS b on beta"})
    EXPECT_EQ(count_of(r.output, line + "\n"), 1) << line << "\n" << r.output;
  EXPECT_EQ(count_of(r.output, "PASS "), 4) << r.output;
}

TEST(SchedulerSelfTest, OneFailingTypeMakesItExitOne) {
  auto s = two_hosts();
  s.agents = {fake_agent("a"), fake_agent("mute", "--no-ok")};
  SchedulerHarness h(s);
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "-t"});
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_EQ(count_of(r.output, "PASS a on "), 2) << r.output;
  EXPECT_EQ(count_of(r.output, "FAIL mute on "), 2) << r.output;
  EXPECT_TRUE(contains(r.output, "startup_timeout")) << r.output;
}

TEST(SchedulerSelfTest, TestThenRunExitsOneWhenATypeFails) {
  auto s = two_hosts();
  s.agents = {fake_agent("a"), fake_agent("mute", "--no-ok")};
  SchedulerHarness h(s);
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "-T"});
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FAIL mute")) << r.output;
}

TEST(SchedulerSelfTest, TestThenRunRunsAsUsualWhenAllPass) {
  auto s = two_hosts();
  s.agents = {fake_agent("a")};
  SchedulerHarness h(s);
  h.start({"-T"});
  long long jq = h.queue("a", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_TRUE(contains(h.log(), "scheduler started")) << h.log();
}

}  // namespace
