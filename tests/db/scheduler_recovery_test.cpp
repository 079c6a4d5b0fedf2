// The scheduler process itself (SPEC §4, §6): crash recovery and --reset, one scheduler per
// pidfile and per database, and the signals TERM, QUIT and HUP.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <thread>

#include <fmt/format.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(SchedulerRecovery, StepRunningWhenTheSchedulerWasKilledRunsAgainAndCompletesOnce) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  auto s = fast_settings();
  s.heartbeat_timeout = 30;
  s.agents = {fake_agent("long", "--record=" + record)};
  SchedulerHarness h(s);
  h.start();
  // Its line is done only once the test says so (its file): the first agent is still at it
  // when the next scheduler starts, and only that scheduler ends it.
  long long jq = queue_held(h, "long", "data", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  ASSERT_TRUE(eventually([&] { return records(record).size() == 1; }, 10s));
  pid_t old_agent = records(record)[0].pid;
  h.stop(SIGKILL);  // the scheduler alone: its agent is in a process group of its own
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  h.start();
  EXPECT_TRUE(eventually([&] { return !process_alive(old_agent); }, 30s)) << h.log();
  let_go(dir.path() + "/go");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
  EXPECT_EQ(h.end_bits(jq), 1);  // completed, and never also failed
  EXPECT_FALSE(process_alive(old_agent));
  auto rec = records(record);
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_NE(rec[1].pid, old_agent);
  EXPECT_EQ(rec[1].line, "data");
  EXPECT_TRUE(contains(h.log(), "queued again")) << h.log();
  EXPECT_EQ(h.items(jq), 1);
}

TEST(SchedulerRecovery, ResetReleasesPausedSteps) {
  auto s = fast_settings();
  s.heartbeat_timeout = 30;
  s.agents = {fake_agent("w", "--work-ms=800")};
  SchedulerHarness h(s);
  h.start();
  // The step to pause works until the test says so (its file), before --reset.
  TempDir dir;
  long long paused = queue_held(h, "w", "p", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(paused, 30s)) << h.log();
  ASSERT_EQ(h.control("pause " + pk(paused)).back(), "end");
  ASSERT_TRUE(eventually([&] { return h.endtext(paused) == "Paused"; }, 10s));
  h.stop(SIGKILL);
  // Without --reset a paused step stays paused; the others run.
  h.start();
  long long other = h.queue("w", "o");
  ASSERT_TRUE(h.wait_ended(other, 30s)) << h.log();
  EXPECT_EQ(h.endtext(paused), "Paused");
  h.stop(SIGKILL);
  let_go(dir.path() + "/go");
  h.start({"--reset"});
  ASSERT_TRUE(h.wait_ended(paused, 30s)) << h.log();
  EXPECT_EQ(h.endtext(paused), "Completed");
}

TEST(SchedulerRecovery, SecondSchedulerWithTheSamePidfileRefuses) {
  TempDir dir;
  std::string pidfile = dir.path() + "/scheduler.pid";
  auto s = fast_settings();
  SchedulerHarness h(s);
  h.start({"--pidfile", pidfile});
  ASSERT_TRUE(wait_serving(h)) << h.log();
  auto r =
      h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "--pidfile", pidfile});
  EXPECT_EQ(r.exit_code(), 5) << r.output;
  EXPECT_TRUE(contains(r.output, "pidfile")) << r.output;
}

TEST(SchedulerRecovery, SecondSchedulerOnTheSameDatabaseRefuses) {
  SchedulerHarness h(fast_settings());
  h.start();
  ASSERT_TRUE(wait_serving(h)) << h.log();
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"});
  EXPECT_EQ(r.exit_code(), 5) << r.output;
  EXPECT_TRUE(contains(r.output, "another scheduler")) << r.output;
}

// A database whose schema is older than the scheduler (binaries upgraded, `--init-db` not run
// yet), or that has none: the scheduler refuses to start with exit 4 and one line saying what to
// run, where the queue's statements would fail on every poll. A newer schema is accepted.
TEST(SchedulerRecovery, AnOlderOrMissingSchemaIsRefusedAtStart) {
  auto s = fast_settings();
  s.agents = {fake_agent("quick", "--ok")};
  SchedulerHarness h(s);
  const long latest = std::stol(h.db().query("SELECT max(version) FROM jobline_schema"));
  h.db().query(fmt::format("DELETE FROM jobline_schema WHERE version = {}", latest));
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 4) << r.output;
  EXPECT_TRUE(contains(r.output, fmt::format("FATAL: the database's schema is version {}, this "
                                             "scheduler needs version {}: run 'scheduler "
                                             "--init-db' to upgrade it",
                                             latest - 1, latest)))
      << r.output;
  TempDatabase empty;
  r = h.run({"-c", h.conf_dir(), "--db", empty.conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 4) << r.output;
  EXPECT_TRUE(
      contains(r.output, "FATAL: the database has no jobline schema: run 'scheduler --init-db'"))
      << r.output;
  h.db().query(fmt::format(
      "INSERT INTO jobline_schema (version, name) VALUES ({}, 'back'), ({}, 'a newer one')", latest,
      latest + 1));
  h.start();
  ASSERT_TRUE(wait_serving(h)) << h.log();
  long long step = h.queue("quick", "x");
  ASSERT_TRUE(h.wait_ended(step, 30s)) << h.log();
  EXPECT_EQ(h.endtext(step), "Completed");
}

TEST(SchedulerRecovery, TermLetsTheRunningAgentFinishAndStartsNothingNew) {
  auto s = fast_settings();
  s.agents = {fake_agent("one", "", 1)};
  SchedulerHarness h(s);
  h.start();
  // a works until the scheduler has taken the TERM (its file, made by `opener`).
  TempDir dir;
  long long a = queue_held(h, "one", "a", dir.path() + "/go");
  long long b = h.queue("one", "b");
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  {
    std::jthread opener([&] {  // joined at the end of the block, also if stop() throws
      eventually([&] { return contains(h.log(), "graceful stop"); }, 30s);
      let_go(dir.path() + "/go");
    });
    h.stop(SIGTERM, 30s);
  }
  ASSERT_TRUE(h.last_status().has_value());
  EXPECT_TRUE(WIFEXITED(*h.last_status()) && WEXITSTATUS(*h.last_status()) == 0) << h.log();
  EXPECT_EQ(h.endtext(a), "Completed");
  EXPECT_EQ(h.column(b, "jq_starttime"), "");
  EXPECT_EQ(h.column(b, "jq_endtime"), "");
}

TEST(SchedulerRecovery, QuitKillsTheAgentsAndFailsTheirSteps) {
  HangingStep step;
  auto& h = step.h;
  long long jq = step.jq;
  ASSERT_TRUE(step.pid > 0) << h.log();
  pid_t pid = step.pid;
  h.stop(SIGQUIT, 30s);
  ASSERT_TRUE(h.last_status().has_value());
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_TRUE(contains(h.endtext(jq), "QUIT")) << h.endtext(jq);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, 5s));
}

TEST(SchedulerRecovery, HupReloadsTheConfiguration) {
  auto s = fast_settings();
  s.agents = {fake_agent("first")};
  SchedulerHarness h(s);
  h.start();
  ASSERT_TRUE(wait_serving(h));
  h.settings().agents.push_back(fake_agent("second"));
  h.write_conf();
  h.process()->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return contains(h.log(), "configuration reloaded"); }, 10s));
  long long jq = h.queue("second", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed");
}

}  // namespace
