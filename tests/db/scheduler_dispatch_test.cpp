// Dispatch in a real scheduler (SPEC §4, §5): EXCLUSIVE, dependencies, priorities, per-type
// and per-host limits, LOCAL and jq_host routing, NOTIFY pickup.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

// Whether step a started at or after step b ended (jobqueue timestamps).
bool started_after_end(SchedulerHarness& h, long long a, long long b) {
  return h.db().query("SELECT (SELECT jq_starttime FROM jobqueue WHERE jq_pk = " + pk(a) +
                      ") >= (SELECT jq_endtime FROM jobqueue WHERE jq_pk = " + pk(b) + ")") == "t";
}

TEST(SchedulerDispatch, ExclusiveWaitsRunsAloneThenNormalDispatchResumes) {
  auto s = fast_settings();
  s.agents = {fake_agent("norm", "--work-ms=1000"),
              fake_agent("excl", "--work-ms=300", -1, "EXCLUSIVE")};
  SchedulerHarness h(s);
  h.start();
  long long a = h.queue("norm", "a");
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  long long e = h.queue("excl", "e");
  long long b = h.queue("norm", "b");
  ASSERT_TRUE(h.wait_ended(b, 30s)) << h.log();
  ASSERT_TRUE(h.wait_ended(e, 1s));
  for (long long jq : {a, e, b}) EXPECT_EQ(h.endtext(jq), "Completed") << jq;
  EXPECT_TRUE(started_after_end(h, e, a)) << "the exclusive step started while another ran";
  EXPECT_TRUE(started_after_end(h, b, e)) << "a step started while the exclusive one ran";
}

TEST(SchedulerDispatch, KilledExclusiveStepThatNeverStartedDoesNotBlockTheQueue) {
  auto s = fast_settings();
  s.agents = {fake_agent("norm"), fake_agent("excl", "", -1, "EXCLUSIVE")};
  SchedulerHarness h(s);
  h.start();
  // a runs until the test says so (its file): b must start beside it.
  TempDir dir;
  long long a = queue_held(h, "norm", "a", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  long long e = h.queue("excl", "e");
  ASSERT_TRUE(eventually([&] { return contains(h.log(), "JOB[" + pk(e) + "] taken"); }, 10s));
  auto reply = h.control("kill " + pk(e) + " \"not today\"");
  EXPECT_EQ(reply.back(), "end") << joined(reply);
  ASSERT_TRUE(h.wait_ended(e, 10s));
  EXPECT_EQ(h.endtext(e), "killed: not today");
  EXPECT_EQ(h.column(e, "jq_starttime"), "");
  long long b = h.queue("norm", "b");
  // b starts while a still runs (a ends only once its file is there).
  ASSERT_TRUE(h.wait_started(b, 10s)) << "b waited: the killed exclusive step blocked\n" << h.log();
  let_go(dir.path() + "/go");
  EXPECT_TRUE(h.wait_ended(b, 30s));
  EXPECT_TRUE(h.wait_ended(a, 30s));
}

TEST(SchedulerDispatch, PausedExclusiveStepDoesNotBlockTheQueue) {
  auto s = fast_settings();
  s.agents = {fake_agent("norm", "--work-ms=100"),
              fake_agent("excl", "--work-ms=60000 --heartbeat-ms=200", -1, "EXCLUSIVE")};
  SchedulerHarness h(s);
  h.start();
  long long e = h.queue("excl", "e");
  ASSERT_TRUE(h.wait_started(e, 30s)) << h.log();
  // While it runs, nothing else starts.
  long long a = h.queue("norm", "a");
  ASSERT_TRUE(eventually([&] { return contains(h.log(), "JOB[" + pk(a) + "] taken"); }, 10s));
  EXPECT_FALSE(h.wait_started(a, 1500ms)) << "a started beside a running exclusive step";
  // Paused, it no longer holds the queue.
  auto reply = h.control("pause " + pk(e));
  EXPECT_EQ(reply.back(), "end") << joined(reply);
  ASSERT_TRUE(h.wait_ended(a, 30s)) << h.log();
  EXPECT_EQ(h.endtext(a), "Completed");
  EXPECT_EQ(h.column(e, "jq_endtime"), "") << "the paused exclusive step was ended";
  h.control("kill " + pk(e) + " \"done\"");
  ASSERT_TRUE(h.wait_ended(e, 30s));
  EXPECT_EQ(h.endtext(e), "killed: done");
}

TEST(SchedulerDispatch, StepWaitsForItsPrerequisite) {
  auto s = fast_settings();
  s.agents = {fake_agent("w", "--work-ms=600")};
  SchedulerHarness h(s);
  long long a = h.queue("w", "a");
  SchedulerHarness::Step step{"w", "b"};
  step.depends = {a};
  long long b = h.queue(step);
  h.start();
  ASSERT_TRUE(h.wait_ended(b, 30s)) << h.log();
  EXPECT_EQ(h.endtext(a), "Completed");
  EXPECT_EQ(h.endtext(b), "Completed");
  EXPECT_TRUE(started_after_end(h, b, a));
}

TEST(SchedulerDispatch, FailedPrerequisiteFailsEveryDependentTransitively) {
  auto s = fast_settings();
  s.agents = {fake_agent("bad", "--fatal"), fake_agent("good")};
  SchedulerHarness h(s);
  h.start();
  long long a = h.queue("bad", "a");
  SchedulerHarness::Step sb{"good", "b"};
  sb.depends = {a};
  long long b = h.queue(sb);
  SchedulerHarness::Step sc{"good", "c"};
  sc.depends = {b};
  long long c = h.queue(sc);
  ASSERT_TRUE(h.wait_ended(c, 30s)) << h.log();
  ASSERT_TRUE(h.wait_ended(b, 1s));
  EXPECT_TRUE(contains(h.endtext(a), "FATAL"));
  for (long long jq : {b, c}) {
    EXPECT_EQ(h.endtext(jq), "dependency failed") << jq;
    EXPECT_EQ(h.end_bits(jq), 2) << jq;
    EXPECT_EQ(h.column(jq, "jq_starttime"), "") << jq;
  }
}

TEST(SchedulerDispatch, HigherPriorityFirstThenByAge) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  auto s = fast_settings();
  s.agents = {fake_agent("one", "--work-ms=150 --record=" + record, 1)};
  SchedulerHarness h(s);
  h.start();
  auto first = h.queue("one", "blocker");
  ASSERT_TRUE(h.wait_started(first, 30s));
  // One transaction, so all four are queued before the blocker can end.
  auto pks = h.db().rows(
      "SELECT queue_step(queue_job('t', NULL, p), 'one', a) "
      "FROM (VALUES (1, 'p0', 0), (2, 'p5a', 5), (3, 'p5b', 5), (4, 'p1', 1)) v(i, a, p) "
      "ORDER BY i");
  ASSERT_EQ(pks.size(), 4u);
  for (const auto& jq : pks) ASSERT_TRUE(h.wait_ended(std::stoll(jq), 30s)) << h.log();
  std::vector<std::string> order;
  for (const auto& r : records(record)) order.push_back(r.line);
  EXPECT_EQ(order, (std::vector<std::string>{"blocker", "p5a", "p5b", "p1", "p0"}));
}

// The steps the scheduler holds in memory (its `status` reply, one line per step).
std::size_t steps_in_memory(SchedulerHarness& h) {
  auto reply = h.control("status");
  return static_cast<std::size_t>(std::count_if(
      reply.begin(), reply.end(), [](const auto& l) { return l.rfind("job:", 0) == 0; }));
}

// Queues 10 * `transactions` steps of `type` (args <prefix>0, <prefix>1, ...), 10 per
// transaction: as many commits, and a NOTIFY per step. With a `host`, pinned to it (jq_host).
void queue_deep(SchedulerHarness& h, const std::string& type, const std::string& prefix,
                int transactions, const std::string& host = "") {
  std::string jq_host = host.empty() ? "NULL" : "'" + host + "'";
  for (int t = 0; t < transactions; ++t)
    h.db().query(fmt::format(
        "SELECT count(queue_step(queue_job('deep'), '{}', '{}' || g, '{{}}', NULL, {})) "
        "FROM generate_series({}, {}) g",
        type, prefix, jq_host, t * 10, t * 10 + 9));
}

// Waits until `n` steps have completed.
bool wait_completed(SchedulerHarness& h, int n, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        return h.db().query("SELECT count(*) FROM jobqueue WHERE jq_endtext = 'Completed'") ==
               std::to_string(n);
      },
      timeout);
}

// How many times the scheduler's log says it took a step from the queue.
std::size_t steps_taken(SchedulerHarness& h) {
  auto log = h.log();
  std::size_t taken = 0;
  for (auto at = log.find("] taken from the queue"); at != std::string::npos;
       at = log.find("] taken from the queue", at + 1))
    ++taken;
  return taken;
}

// The settings of the tests with deep queues: agents that hang for the test's length are not
// taken for dead.
SchedulerSettings deep_settings(std::vector<HostConf> hosts, std::vector<AgentConf> agents) {
  auto s = fast_settings();
  s.heartbeat_timeout = 60;
  s.hosts = std::move(hosts);
  s.agents = std::move(agents);
  return s;
}

// Queues a step of type quick at priority 9 (args "urgent") and waits until the scheduler has
// taken it: its NOTIFY came after those of every step queued before, so by then they have all
// been handled. Its jq_pk, or 0 when it was not taken within 30 s.
long long queue_urgent(SchedulerHarness& h) {
  long long urgent = std::stoll(
      h.db().query("SELECT queue_step(queue_job('urgent', NULL, 9), 'quick', 'urgent')"));
  bool taken = eventually([&] { return contains(h.log(), "JOB[" + pk(urgent) + "] taken"); }, 30s);
  return taken ? urgent : 0;
}

// A deep queue is not read into memory while every slot is busy: with host max 2 a poll asks
// for 2 * 4 + 16 = 24 steps, and no more than that wait in memory however many NOTIFYs come.
// A step of a higher priority still gets in, and runs first.
TEST(SchedulerDispatch, StepsWaitingInMemoryAreBoundedWhileEverySlotIsBusy) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  SchedulerHarness h(deep_settings(
      {HostConf{"localhost", "localhost", "", 2}},
      {fake_agent("hold", "--hang"), fake_agent("quick", "--ok --record=" + record)}));
  h.start();
  long long a = h.queue("hold", "a"), b = h.queue("hold", "b");
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  ASSERT_TRUE(h.wait_started(b, 30s)) << h.log();
  // 300 steps in 30 transactions: 30 commits, 300 NOTIFYs, as many polls as the scheduler
  // makes of them.
  queue_deep(h, "quick", "q", 30);
  long long urgent = queue_urgent(h);
  ASSERT_NE(urgent, 0) << h.log();
  EXPECT_LE(steps_in_memory(h), 2u + 24u + 1u) << joined(h.control("status"));
  // One slot is freed: the urgent step takes it before any of the 300 (that one is recorded
  // first); then the other.
  h.control("kill " + pk(a) + " \"done\"");
  ASSERT_TRUE(h.wait_ended(urgent, 30s)) << h.log();
  h.control("kill " + pk(b) + " \"done\"");
  ASSERT_TRUE(wait_completed(h, 301, 120s)) << h.log();
  auto done = records(record);
  ASSERT_EQ(done.size(), 301u);
  EXPECT_EQ(done.front().line, "urgent");
}

// A type at its max (here 1) with a deep queue while other slots are free: its steps are read
// into memory up to 4 * 1 + 16 = 20 waiting (one more while its slot is free, between two of
// its steps), and the polls after that read it only as far as it has room, so a step of another
// type queued behind all of them is still found and runs at once. A step of the type with a
// higher priority still gets in and runs next. Then the type's steps run one at a time, in
// order, each read from the queue once.
TEST(SchedulerDispatch, StepsOfATypeAtItsMaxAreBoundedWhileOtherSlotsAreFree) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  SchedulerHarness h(deep_settings({HostConf{"localhost", "localhost", "", 4}},
                                   {fake_agent("one", "--ok --work-ms=600 --record=" + record, 1),
                                    fake_agent("quick", "--ok --record=" + record)}));
  h.start();
  // a holds the type's one slot until the test says so (its file), after the urgent and the
  // quick steps.
  long long a = queue_held(h, "one", "a", dir.path() + "/go");
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  queue_deep(h, "one", "o", 3);
  // a and 20 of the 30 in memory: the type is full.
  ASSERT_TRUE(eventually([&] { return steps_in_memory(h) >= 21; }, 30s)) << h.log();
  h.db().query("SELECT queue_step(queue_job('urgent', NULL, 9), 'one', 'urgent')");
  long long quick =
      std::stoll(h.db().query("SELECT queue_step(queue_job('quick'), 'quick', 'quick')"));
  ASSERT_TRUE(h.wait_ended(quick, 30s)) << h.log();
  EXPECT_EQ(h.endtext(quick), "Completed");
  // One running (or a 21st waiting), 20 waiting, the urgent one, and the quick step until it is
  // let go.
  EXPECT_LE(steps_in_memory(h), 1u + 20u + 1u + 1u) << joined(h.control("status"));
  let_go(dir.path() + "/go");
  ASSERT_TRUE(wait_completed(h, 33, 90s)) << h.log();
  std::vector<std::string> ones;
  for (const auto& r : records(record))
    if (r.line != "quick") ones.push_back(r.line);
  ASSERT_EQ(ones.size(), 32u);
  EXPECT_EQ(ones[0], "a");
  EXPECT_EQ(ones[1], "urgent");
  for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(ones[i + 2], "o" + std::to_string(i));
  EXPECT_EQ(steps_taken(h), 33u);
}

// A type at its max (here 1) draining a deep queue while other slots are free: steps of another
// type queued meanwhile, one at a time, each run at once. Between two of the type's steps it has
// one step fewer waiting in memory than it may have; a poll then read the queue in its one order
// and found only the type's steps within its LIMIT, so the other step stayed queued until the
// fallback poll (an hour here) or until the type's backlog ran short. Every poll while a slot is
// free now reads each group only as far as it has room.
TEST(SchedulerDispatch, StepsQueuedWhileATypeAtItsMaxDrainsRunAtOnce) {
  auto s = deep_settings({HostConf{"localhost", "localhost", "", 4}},
                         {fake_agent("one", "--ok --work-ms=150", 1), fake_agent("quick", "--ok")});
  s.poll_interval = 3600;
  SchedulerHarness h(s);
  h.start();
  queue_deep(h, "one", "o", 40);  // 400 steps: a minute at 150 ms each
  ASSERT_TRUE(eventually([&] { return steps_in_memory(h) >= 21; }, 30s)) << h.log();
  for (int i = 0; i < 10; ++i) {
    long long quick = h.queue("quick", "q" + std::to_string(i));
    ASSERT_TRUE(h.wait_ended(quick, 20s)) << "quick step " << i << " (" << pk(quick) << ")\n"
                                          << h.log();
    EXPECT_EQ(h.endtext(quick), "Completed");
  }
  // The type's steps in memory stay bounded: one running, 20 waiting, one more between two; and
  // the last quick step until it is let go.
  EXPECT_LE(steps_in_memory(h), 1u + 20u + 1u + 1u) << joined(h.control("status"));
}

// Steps pinned to a host that is full (here far, max 1, held by a step) while another host has
// free slots: their group (type quick, jq_host far) keeps 4 * 1 + 16 = 20 waiting in memory,
// and the polls after that read it only as far as it has room, so a step of the same type on no
// host is still found and runs at once. Then the pinned ones run on far, in order, each read once.
TEST(SchedulerDispatch, StepsPinnedToAFullHostAreBoundedWhileOtherHostsAreFree) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  SchedulerHarness h(deep_settings(
      {HostConf{"localhost", "localhost", "", 2}, HostConf{"far", "localhost", "", 1}},
      {fake_agent("hold", "--hang"), fake_agent("quick", "--ok --record=" + record)}));
  h.start();
  SchedulerHarness::Step hold{"hold", "h"};
  hold.host = "far";
  long long held = h.queue(hold);
  ASSERT_TRUE(h.wait_started(held, 30s)) << h.log();
  queue_deep(h, "quick", "f", 3, "far");
  ASSERT_TRUE(eventually([&] { return steps_in_memory(h) >= 21; }, 30s)) << h.log();
  long long free = h.queue("quick", "free");
  ASSERT_TRUE(h.wait_ended(free, 30s)) << h.log();
  EXPECT_EQ(h.endtext(free), "Completed");
  // The step on far, 20 waiting for it, and the free step until it is let go.
  EXPECT_LE(steps_in_memory(h), 1u + 20u + 1u) << joined(h.control("status"));
  h.control("kill " + pk(held) + " \"done\"");
  ASSERT_TRUE(wait_completed(h, 31, 90s)) << h.log();
  auto done = records(record);
  ASSERT_EQ(done.size(), 31u);
  EXPECT_EQ(done[0].line, "free");
  for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(done[i + 1].line, "f" + std::to_string(i));
  EXPECT_EQ(steps_taken(h), 32u);
}

// While an EXCLUSIVE step runs nothing else starts, though slots are free: the steps queued
// meanwhile wait in memory up to 2 * 4 + 16 = 24, as if every slot were busy, however many
// NOTIFYs come; a step of a higher priority still gets in, and starts first after it.
TEST(SchedulerDispatch, StepsWaitingBehindARunningExclusiveStepAreBounded) {
  TempDir dir;
  std::string record = dir.path() + "/record";
  SchedulerHarness h(deep_settings({HostConf{"localhost", "localhost", "", 2}},
                                   {fake_agent("excl", "--hang", -1, "EXCLUSIVE"),
                                    fake_agent("quick", "--ok --record=" + record)}));
  h.start();
  long long e = h.queue("excl", "e");
  ASSERT_TRUE(h.wait_started(e, 30s)) << h.log();
  queue_deep(h, "quick", "q", 6);
  long long urgent = queue_urgent(h);
  ASSERT_NE(urgent, 0) << h.log();
  EXPECT_LE(steps_in_memory(h), 1u + 24u + 1u) << joined(h.control("status"));
  EXPECT_EQ(h.column(urgent, "jq_starttime"), "");
  h.control("kill " + pk(e) + " \"done\"");
  ASSERT_TRUE(wait_completed(h, 61, 90s)) << h.log();
  auto done = records(record);
  ASSERT_EQ(done.size(), 61u);
  // The agents in the order they were started (either of the two started at once when the
  // exclusive step ended may record first).
  auto started = numbers(h.log(), R"(JOB\[(\d+)\]\.[^ ]*: started)");
  ASSERT_EQ(started.size(), 62u) << h.log();
  EXPECT_EQ(started[0], e);
  EXPECT_EQ(started[1], urgent) << h.log();
  EXPECT_EQ(steps_taken(h), 62u);
}

// Samples `load` until every step ended; returns the highest `running:` seen on `host`.
int max_load(SchedulerHarness& h, const std::vector<long long>& pks, const std::string& host) {
  int most = 0;
  auto all_ended = [&] {
    return std::all_of(pks.begin(), pks.end(),
                       [&](long long jq) { return !h.column(jq, "jq_endtime").empty(); });
  };
  eventually(
      [&] {
        for (const auto& line : h.control("load")) {
          if (!contains(line, "host:" + host + " ")) continue;
          auto n = numbers(line, R"(running:(\d+))");
          if (!n.empty()) most = std::max(most, static_cast<int>(n.front()));
        }
        return all_ended();
      },
      60s);
  return most;
}

TEST(SchedulerDispatch, PerTypeMaxIsNeverExceeded) {
  auto s = fast_settings();
  s.hosts[0].max = 8;
  s.agents = {fake_agent("two", "--work-ms=400", 2)};
  SchedulerHarness h(s);
  h.start();
  std::vector<long long> pks;
  for (int i = 0; i < 5; ++i) pks.push_back(h.queue("two", "x" + std::to_string(i)));
  EXPECT_EQ(max_load(h, pks, "localhost"), 2);  // reached, never exceeded
  for (auto jq : pks) EXPECT_EQ(h.endtext(jq), "Completed");
}

TEST(SchedulerDispatch, PerHostMaxIsNeverExceeded) {
  auto s = fast_settings();
  s.hosts[0].max = 3;
  s.agents = {fake_agent("many", "--work-ms=400")};
  SchedulerHarness h(s);
  h.start();
  std::vector<long long> pks;
  for (int i = 0; i < 7; ++i) pks.push_back(h.queue("many", "x" + std::to_string(i)));
  EXPECT_EQ(max_load(h, pks, "localhost"), 3);
  for (auto jq : pks) EXPECT_EQ(h.endtext(jq), "Completed");
}

// A stand-in for ssh: drops the address and runs the remote command with sh.
std::string fake_ssh(const TempDir& dir) {
  std::string path = dir.path() + "/fake_ssh";
  std::ofstream(path) << "#!/bin/sh\nshift\nexec /bin/sh -c \"$1\"\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(SchedulerDispatch, LocalTypesRunOnLocalhostAndJqHostIsHonoured) {
  TempDir dir;
  auto s = fast_settings();
  s.ssh_command = fake_ssh(dir);
  s.hosts = {HostConf{"far", "far.invalid", "", 8}, HostConf{"localhost", "localhost", "", 8}};
  s.agents = {fake_agent("loc", "", -1, "LOCAL"), fake_agent("any")};
  SchedulerHarness h(s);
  h.start();
  std::vector<long long> local;
  for (int i = 0; i < 4; ++i) local.push_back(h.queue("loc", "l" + std::to_string(i)));
  SchedulerHarness::Step to_far{"any", "f"};
  to_far.host = "far";
  long long far = h.queue(to_far);
  SchedulerHarness::Step to_local{"any", "g"};
  to_local.host = "localhost";
  long long here = h.queue(to_local);
  for (auto jq : local) {
    ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
    EXPECT_EQ(h.endtext(jq), "Completed");
    EXPECT_TRUE(contains(h.step_log(jq), ".localhost]")) << h.step_log(jq);
    EXPECT_FALSE(contains(h.step_log(jq), ".far]")) << h.step_log(jq);
  }
  ASSERT_TRUE(h.wait_ended(far, 30s) && h.wait_ended(here, 30s)) << h.log();
  EXPECT_EQ(h.endtext(far), "Completed") << h.log();
  EXPECT_TRUE(contains(h.step_log(far), ".far]")) << h.step_log(far);
  EXPECT_EQ(h.endtext(here), "Completed");
  EXPECT_TRUE(contains(h.step_log(here), ".localhost]")) << h.step_log(here);
}

TEST(SchedulerDispatch, UnknownTypeUnknownHostAndMissingBinaryFailAtOnce) {
  auto s = fast_settings();
  AgentConf missing = fake_agent("ghost");
  missing.command = "/nonexistent/jobline/ghost_agent";
  s.agents = {fake_agent("good"), missing};
  SchedulerHarness h(s);
  h.start();
  long long unknown = h.queue("nosuch", "x");
  SchedulerHarness::Step bad_host{"good", "x"};
  bad_host.host = "nowhere";
  long long nowhere = h.queue(bad_host);
  long long ghost = h.queue("ghost", "x");
  long long ok = h.queue("good", "x");
  for (auto jq : {unknown, nowhere, ghost, ok}) ASSERT_TRUE(h.wait_ended(jq, 10s)) << h.log();
  EXPECT_TRUE(contains(h.endtext(unknown), "no agent type 'nosuch'")) << h.endtext(unknown);
  EXPECT_TRUE(contains(h.endtext(nowhere), "jq_host 'nowhere'")) << h.endtext(nowhere);
  EXPECT_TRUE(contains(h.endtext(ghost), "cannot execute")) << h.endtext(ghost);
  for (auto jq : {unknown, nowhere, ghost}) EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_EQ(h.endtext(ok), "Completed");
}

TEST(SchedulerDispatch, NotifyWakesTheSchedulerWithoutThePoll) {
  auto s = fast_settings();
  s.poll_interval = 60;
  s.agents = {fake_agent("quick")};
  SchedulerHarness h(s);
  h.start();
  ASSERT_TRUE(wait_serving(h));
  // Let the start-up poll find the queue empty first.
  ASSERT_TRUE(eventually([&] { return h.control("status").back() == "end"; }, 10s));
  long long jq = h.queue("quick", "x");
  EXPECT_TRUE(h.wait_started(jq, 5s)) << "not picked up within 5 s (poll_interval is 60 s)";
  EXPECT_TRUE(h.wait_ended(jq, 10s));
}

TEST(SchedulerDispatch, MalformedCmdArgsFailOnlyThatStep) {
  auto s = fast_settings();
  s.agents = {fake_agent("good")};
  SchedulerHarness h(s);
  h.start();
  SchedulerHarness::Step bad{"good", "x"};
  bad.cmd_args = "--work-ms='1";  // unterminated quote
  long long b = h.queue(bad);
  SchedulerHarness::Step fine{"good", "y"};
  fine.cmd_args = "--work-ms=1 '--flood=1'";
  long long f = h.queue(fine);
  ASSERT_TRUE(h.wait_ended(b, 10s) && h.wait_ended(f, 10s)) << h.log();
  EXPECT_EQ(h.end_bits(b), 2);
  EXPECT_TRUE(contains(h.endtext(b), "jq_cmd_args")) << h.endtext(b);
  EXPECT_EQ(h.endtext(f), "Completed");
  EXPECT_TRUE(contains(h.step_log(f), "flood 0")) << h.step_log(f);  // the args arrived
}

TEST(SchedulerDispatch, BadAgentConfIsReportedWithFileAndLineAndLeftOut) {
  auto s = fast_settings();
  AgentConf bad = fake_agent("broken");
  bad.extra = "special = FAST";
  s.agents = {bad, fake_agent("good")};
  SchedulerHarness h(s);
  h.start();
  long long g = h.queue("good", "x");
  long long b = h.queue("broken", "x");
  ASSERT_TRUE(h.wait_ended(g, 10s) && h.wait_ended(b, 10s)) << h.log();
  EXPECT_EQ(h.endtext(g), "Completed");
  EXPECT_TRUE(contains(h.endtext(b), "no agent type 'broken'")) << h.endtext(b);
  std::string log = h.log();
  EXPECT_TRUE(contains(log, "agents/broken.conf:")) << log;
  EXPECT_FALSE(numbers(log, R"(agents/broken\.conf:(\d+):)").empty()) << log;
  EXPECT_TRUE(contains(log, "left out")) << log;
}

}  // namespace
