// `scheduler -t` and `-T` (SPEC §6): one line per agent type and host, the exit code, -T
// going on to run as usual when every type passes, and -t stopped by a signal. That -t agrees
// with a step on each misbehaviour: selftest_agreement_test.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

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

// FOSSology's no_update test agent: NOKILL, then slow to exit after the end of its data. A step
// completes, so -T must start (it used to kill it startup_timeout after its OK).
TEST(SchedulerSelfTest, TestThenRunAcceptsASlowNokillAgent) {
  auto s = fast_settings();  // startup_timeout and heartbeat_timeout 1.5 s
  s.agents = {fake_agent("no-update", "--fossology --nokill --exit-delay-ms=3000")};
  SchedulerHarness h(s);
  h.start({"-T"});
  ASSERT_TRUE(wait_serving(h)) << h.log();  // (a failed self-test makes -T exit instead)
  long long jq = h.queue("no-update", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
}

// A NOKILL agent that never exits keeps -t waiting as it would keep a step running; SIGINT
// ends the test: the probe is killed (its process group too) and fails.
TEST(SchedulerSelfTest, InterruptedSelfTestKillsItsProbesAndFails) {
  auto s = fast_settings();
  s.agents = {fake_agent("stuck", "--grandchild", -1, "NOKILL"), fake_agent("a")};
  SchedulerHarness h(s);
  std::string log = h.conf_dir() + "/selftest.log";
  Child::Options opts;
  opts.merge_stderr = true;
  Child t({build_dir() + "/scheduler/scheduler", "-c", h.conf_dir(), "-L", log, "-v", "1", "-t"},
          opts);
  std::vector<long> grandchild;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    grandchild = numbers(text, R"(grandchild (\d+))");
    // ...and the sound probe is done: only the stuck one is left to stop.
    return !grandchild.empty() && contains(text, R"(.a[)") && contains(text, "exited cleanly");
  })) << "no grandchild logged, or probe 'a' not done";
  EXPECT_EQ(t.wait(500ms), std::nullopt) << "-t ended although a NOKILL probe still runs";
  t.signal(SIGINT);
  std::string out = t.read_all(10s);
  auto status = t.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << out;
  EXPECT_TRUE(contains(out, "FAIL stuck on localhost: self-test stopped by SIGINT")) << out;
  EXPECT_TRUE(contains(out, "PASS a on localhost")) << out;
  EXPECT_TRUE(eventually([&] { return !process_alive(static_cast<pid_t>(grandchild[0])); }, 5s));
}

}  // namespace
