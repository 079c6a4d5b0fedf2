// SQL-fed steps on remote hosts through the `sshd` fixture (SPEC §5.2, §5.3; docs/feeding.md):
// three "hosts" h1..h3, all 127.0.0.1 reached with test::ssh_command(), each with its own
// agentdir of symlinks so that row_agent records which host ran it. Rows land on the host their
// key's range names, exactly once; a host that cannot be reached is marked down and its rows
// wait for it; a remote agent killed mid-step has its rows done again, none twice in results;
// killing the step ends the remote agents.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../db/feed_test_util.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::SchedulerHarness;
using test::SchedulerSettings;

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

class RemoteFeed : public ::testing::Test {
 protected:
  void SetUp() override { test::feed::make_agentdirs(dirs.path(), {"h1", "h2", "h3"}); }
  SchedulerSettings settings(const std::string& h3_address = "127.0.0.1") {
    SchedulerSettings s;
    s.hosts.clear();
    for (const char* h : {"h1", "h2", "h3"})
      s.hosts.push_back(
          {h, std::string(h) == "h3" ? h3_address : "127.0.0.1", dirs.path() + "/" + h, 2});
    s.repository.assign(std::begin(test::feed::kRanges), std::end(test::feed::kRanges));
    s.agents = {test::feed::row_agent()};
    s.ssh_command = test::ssh_command();
    s.poll_interval = 2;
    s.startup_timeout = 20;
    return s;
  }
  // Rows processed on a host other than the one its key's range names.
  static std::string misrouted(SchedulerHarness& h, const std::string& table) {
    return h.db().query("SELECT count(*) FROM items i JOIN " + table +
                        " s ON s.item = i.id::text WHERE s.host <> " + test::feed::kExpectedHost);
  }

  test::TempDir dirs;
};

TEST_F(RemoteFeed, TenThousandRowsOverSshLandOnTheirHostsExactlyOnce) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 10000);
  h.start();
  long long pk = h.queue(test::feed::sql_step("SELECT id, k FROM items",
                                              test::feed::results_args(h.db(), "--window=32")));
  ASSERT_TRUE(h.wait_ended(pk, 180s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed") << h.step_log(pk);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "10000");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "10000");
  EXPECT_EQ(misrouted(h, "feed_seen"), "0");
  EXPECT_EQ(h.db().rows("SELECT host, count(*) FROM feed_seen GROUP BY 1 ORDER BY 1"),
            h.db().rows(std::string("SELECT ") + test::feed::kExpectedHost +
                        ", count(*) FROM items GROUP BY 1 ORDER BY 1"));
  // The agents ran through ssh: the step log names them with their hosts.
  EXPECT_NE(h.step_log(pk).find(".h3]"), std::string::npos) << h.step_log(pk);
}

TEST_F(RemoteFeed, UnreachableHostIsDownItsRowsWaitAndFinishWhenItIsBack) {
  // 127.0.0.2 is loopback too, but the fixture's sshd listens on 127.0.0.1 only: refused.
  SchedulerHarness h(settings("127.0.0.2"));
  test::feed::make_tables(h.db(), 3000);
  h.start();
  long long pk = h.queue(test::feed::sql_step("SELECT id, k FROM items",
                                              test::feed::results_args(h.db(), "--window=8")));
  std::string others =
      std::string("SELECT count(*) FROM items WHERE ") + test::feed::kExpectedHost + " <> 'h3'";
  long long expected_others = std::stoll(h.db().query(others));
  ASSERT_TRUE(test::eventually(
      [&] { return std::stoll(h.db().query("SELECT count(*) FROM feed_seen")) == expected_others; },
      120s))
      << h.log();
  EXPECT_NE(h.log().find("host 'h3' is down"), std::string::npos) << h.log();
  // The control interface's load says so (jobctl load, the web page's hosts). A probe agent
  // may be out at the moment of asking (one, every 5 s then longer): asked again until none is.
  std::vector<std::string> load;
  EXPECT_TRUE(test::eventually(
      [&] {
        load = h.control("load");
        return std::find(load.begin(), load.end(),
                         "host:h3 address:127.0.0.2 max:2 running:0 down:1") != load.end();
      },
      30s))
      << fmt::format("{}", fmt::join(load, "\n"));
  EXPECT_EQ(h.column(pk, "jq_endtime"), "");  // h3's rows wait: the step goes on
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen WHERE host = 'h3'"), "0");

  h.settings().hosts[2].address = "127.0.0.1";  // the host comes back
  h.write_conf();
  h.process()->signal(SIGHUP);
  ASSERT_TRUE(h.wait_ended(pk, 120s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed") << h.step_log(pk);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_seen"), "3000");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_seen"), "3000");
  EXPECT_EQ(misrouted(h, "feed_seen"), "0");
  EXPECT_NE(h.log().find("host 'h3' is up again"), std::string::npos) << h.log();
}

TEST_F(RemoteFeed, KilledRemoteAgentsRowsAreDoneAgainNoneTwiceInResults) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 3000);
  h.start();
  long long pk = h.queue(test::feed::sql_step(
      "SELECT id, k FROM items", test::feed::results_args(h.db(), "--window=4 --work-ms=2")));
  std::string pid;
  ASSERT_TRUE(test::eventually(
      [&] {
        pid = h.db().query(
            "SELECT pid FROM feed_seen WHERE host = 'h2' GROUP BY pid "
            "HAVING count(*) >= 50 LIMIT 1");
        return !pid.empty();
      },
      120s))
      << h.log();
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL), 0);  // the sshd-side agent
  ASSERT_TRUE(h.wait_ended(pk, 180s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "Completed") << h.step_log(pk);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM feed_result"), "3000");
  EXPECT_EQ(h.db().query("SELECT count(DISTINCT item) FROM feed_result"), "3000");
  EXPECT_EQ(misrouted(h, "feed_result"), "0");
  EXPECT_NE(h.log().find("exit code 255"), std::string::npos) << h.log();
}

TEST_F(RemoteFeed, KillingTheStepEndsTheRemoteAgents) {
  SchedulerHarness h(settings());
  test::feed::make_tables(h.db(), 3000);
  h.start();
  long long pk = h.queue(test::feed::sql_step("SELECT id, k FROM items",
                                              test::feed::results_args(h.db(), "--work-ms=20")));
  ASSERT_TRUE(test::eventually(
      [&] { return h.db().query("SELECT count(DISTINCT host) FROM feed_seen") == "3"; }, 120s))
      << h.log();
  auto pids = h.db().rows("SELECT DISTINCT pid FROM feed_seen");
  ASSERT_FALSE(pids.empty());
  h.control("kill " + std::to_string(pk) + " \"test\"");
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "killed: test");
  for (const auto& p : pids) {
    pid_t pid = static_cast<pid_t>(std::stol(p));
    EXPECT_TRUE(test::eventually([&] { return !process_exists(pid); }, 30s))
        << "remote agent " << pid << " outlived its killed step";
  }
}

// ssh exits 255 when SIGTERM ends it in a session: an agent the scheduler killed before its first
// OK (here at its heartbeat timeout, shorter than its startup timeout) failed on its own; its host
// is not down. Otherwise the step would start such agents again forever, none counted. The remote
// agent's one Heartbeat starts the timeout again once ssh is in its session (a login takes ~0.3 s
// here), so the kills end ssh with 255. (A kill during a login that took longer than the timeout
// ends ssh by the signal, an ordinary failure either way: the outcome does not depend on it.)
TEST_F(RemoteFeed, AnAgentKilledBeforeItsFirstOkFailsTheStepNotItsHost) {
  SchedulerSettings s = settings();
  s.heartbeat_timeout = 2;
  s.startup_timeout = 60;
  s.max_failures = 2;
  SchedulerHarness h(s);
  h.start();
  SchedulerHarness::Step step{"row_agent", "x"};
  step.cmd_args = "--mute";
  long long pk = h.queue(step);
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.end_bits(pk), 2);
  std::string text = h.endtext(pk);
  EXPECT_NE(text.find("heartbeat_timeout"), std::string::npos) << text;
  EXPECT_NE(text.find("2 times"), std::string::npos) << text;
  EXPECT_EQ(h.log().find("is down"), std::string::npos) << h.log();
}

TEST_F(RemoteFeed, KillingAStepBeforeItsRemoteAgentSaidOkLeavesTheHostUp) {
  SchedulerSettings s = settings();
  s.heartbeat_timeout = 60;
  s.startup_timeout = 60;
  SchedulerHarness h(s);
  h.start();
  std::string record = dirs.path() + "/record";
  SchedulerHarness::Step step{"row_agent", "x"};
  step.cmd_args = "--mute --record=" + record;
  long long pk = h.queue(step);
  // The remote agent runs: ssh is in its session.
  ASSERT_TRUE(test::eventually([&] { return std::filesystem::exists(record); }, 60s)) << h.log();
  h.control("kill " + std::to_string(pk) + " \"test\"");
  ASSERT_TRUE(h.wait_ended(pk, 60s)) << h.log();
  EXPECT_EQ(h.endtext(pk), "killed: test");
  ASSERT_TRUE(
      test::eventually([&] { return h.log().find("exit code 255") != std::string::npos; }, 30s))
      << h.log();
  EXPECT_EQ(h.log().find("is down"), std::string::npos) << h.log();
  for (const auto& line : h.control("load"))
    EXPECT_EQ(line.find("down:1"), std::string::npos) << line;
}

}  // namespace
