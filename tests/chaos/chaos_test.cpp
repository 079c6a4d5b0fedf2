// THE CHAOS TEST (docs/testing.md): a workload of SQL-fed and plain steps with dependencies,
// run by chaos_agent through libagent's KILL-safe item loop, while the driver SIGKILLs random
// agents, SIGKILLs and restarts the scheduler, and restarts PostgreSQL (one restart an outage).
// At the end every step must be in a final state, the results must equal a clean run's row for
// row, no agent process may be left, and the final scheduler's open descriptors must be back to
// their count at its start. The figures are printed in one block, with the seed to replay it.
//
// Short form (CTest, label chaos): 2,000 items. Full size: CHAOS_FULL=1 (./run chaos): 20,000
// items, 200 agent kills, 5 scheduler kills, 3 PostgreSQL restarts (one a 10 s outage).
// CHAOS_SEED, CHAOS_ITEMS, CHAOS_AGENT_KILLS, CHAOS_SCHEDULER_KILLS, CHAOS_PG_RESTARTS and
// CHAOS_OUTAGE_S set one figure each.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "chaos_plan.hpp"
#include "chaos_proc.hpp"
#include "private_cluster.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using chaos::EventKind;

constexpr int kParts = 2;  // result rows per item
constexpr int kMaxFailures = 5;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

test::SchedulerSettings chaos_settings(const std::string& tag) {
  test::SchedulerSettings s;
  s.startup_timeout = 20;
  s.heartbeat_timeout = 30;
  s.kill_grace = 1;
  s.poll_interval = 10;
  s.max_failures = kMaxFailures;
  s.hosts[0].max = 6;
  const std::string bin = test::build_dir() + "/tests/agents/chaos_agent/chaos_agent --tag=" + tag;
  test::AgentConf one, group;
  one.name = "chaos_one";
  one.command = bin + " --work-us=1000";
  group.name = "chaos_group";
  group.command = bin + " --group=8 --window=16 --work-us=300";
  s.agents = {one, group};
  return s;
}

// One scheduler with its database, the workload queued in it.
struct Workload {
  Workload(const std::string& cluster, const std::string& tag,
           const std::vector<chaos::StepPlan>& steps)
      : h(chaos_settings(tag), cluster) {
    // The agents find their database in <conf>/Db.conf (FOSSology's format).
    std::string dbconf;
    std::string ci = h.db().conninfo() + " ";
    std::erase(ci, '\'');  // key='value' -> key=value (no value here holds a space)
    for (std::size_t at = 0, sp; (sp = ci.find(' ', at)) != std::string::npos; at = sp + 1)
      if (sp > at) dbconf += ci.substr(at, sp - at) + ";\n";
    test::TempDatabase& db = h.db();
    FILE* f = std::fopen((h.conf_dir() + "/Db.conf").c_str(), "w");
    if (!f) throw std::runtime_error("cannot write Db.conf");
    std::fputs(dbconf.c_str(), f);
    std::fclose(f);
    std::string sql =
        "CREATE TABLE chaos_item (item text PRIMARY KEY, step integer NOT NULL);"
        "CREATE TABLE chaos_result (item text NOT NULL, part integer NOT NULL, value text NOT "
        "NULL, pid integer, at timestamptz NOT NULL DEFAULT clock_timestamp());"
        "CREATE INDEX ON chaos_result (item);"
        "CREATE TABLE chaos_step (step integer PRIMARY KEY, jq_pk integer NOT NULL);"
        "CREATE TABLE chaos_dep (step integer NOT NULL, prereq integer NOT NULL);";
    for (const auto& s : steps) {
      if (s.sql)
        sql += fmt::format(
            "INSERT INTO chaos_item SELECT format('s%s-%s', {0}, k), {0} "
            "FROM generate_series(0, {1}) k;",
            s.index, s.items - 1);
      else
        sql += fmt::format("INSERT INTO chaos_item VALUES ('{}', {});", s.item(0), s.index);
      for (int d : s.deps) sql += fmt::format("INSERT INTO chaos_dep VALUES ({}, {});", s.index, d);
    }
    db.query(sql);
    for (const auto& s : steps) {
      test::SchedulerHarness::Step step;
      step.type = s.type;
      step.priority = s.priority;
      for (int d : s.deps) step.depends.push_back(jq[static_cast<std::size_t>(d)]);
      if (s.sql) {
        step.args = s.query();
        step.runonpfile = "item";
      } else {
        step.args = s.item(0);
      }
      jq.push_back(h.queue(step));
      db.query(fmt::format("INSERT INTO chaos_step VALUES ({}, {})", s.index, jq.back()));
    }
  }

  long long count(const std::string& sql) {
    try {
      return std::stoll(h.db().query(sql));
    } catch (const std::exception&) {
      return -1;  // the database is away (a restart, the outage)
    }
  }
  long long result_rows() { return count("SELECT count(*) FROM chaos_result"); }
  long long unended() { return count("SELECT count(*) FROM jobqueue WHERE jq_endtime IS NULL"); }
  std::vector<std::string> results() {
    return h.db().rows("SELECT item, part, value FROM chaos_result ORDER BY 1, 2, 3");
  }
  bool serving() {
    try {
      auto reply = h.control("status", 2s);
      return !reply.empty() && reply.front() == "received";
    } catch (const std::exception&) {
      return false;
    }
  }
  bool wait_serving(std::chrono::seconds timeout) {
    return test::eventually([&] { return serving(); }, timeout);
  }

  test::SchedulerHarness h;
  std::vector<long long> jq;  // jq_pk of each step of the plan
};

// Multiset differences of two sorted lists: (in a not in b, in b not in a).
std::pair<long long, long long> differences(std::vector<std::string> a,
                                            std::vector<std::string> b) {
  std::sort(a.begin(), a.end());  // bytewise (the database sorted by its collation)
  std::sort(b.begin(), b.end());
  long long only_a = 0, only_b = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      ++only_a, ++i;
    } else if (i == a.size() || b[j] < a[i]) {
      ++only_b, ++j;
    } else {
      ++i, ++j;
    }
  }
  return {only_a, only_b};
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct Figures {
  int agent_kills = 0, scheduler_kills = 0, kills_in_outage = 0, pg_restarts = 0, outages = 0;
  int events_left = 0;
  int fds_start = -1, fds_end = -1;
  pid_t final_scheduler = 0;
  int agents_left = -1;
  double chaos_s = 0, clean_s = 0;
};

class Chaos : public ::testing::Test {
 protected:
  test::PrivateCluster cluster;
};

TEST_F(Chaos, ResultsEqualACleanRun) {
  const chaos::Sizes sizes = chaos::Sizes::from_env();
  std::mt19937_64 rng(sizes.seed);
  const auto steps = chaos::make_workload(rng, sizes.items);
  auto events = chaos::make_events(rng, sizes);
  long long items = 0;
  int sql_steps = 0, with_deps = 0;
  for (const auto& s : steps) {
    items += s.items;
    sql_steps += s.sql;
    with_deps += !s.deps.empty();
  }
  std::cout << fmt::format(
                   "chaos: seed {} (replay: CHAOS_SEED={}{}); {} items in {} steps; {} agent "
                   "kills, {} scheduler kills, {} PostgreSQL restarts (one a {} s outage)",
                   sizes.seed, sizes.seed, sizes.full ? " CHAOS_FULL=1" : "", items, steps.size(),
                   sizes.agent_kills, sizes.scheduler_kills, sizes.pg_restarts, sizes.outage_s)
            << std::endl;
  const std::string tag = fmt::format("chaos-{}-{}", ::getpid(), sizes.seed);
  Figures fig;

  // The clean run: the same workload, nothing disturbed.
  std::vector<std::string> expected;
  {
    auto t0 = Clock::now();
    Workload clean(cluster.conninfo(), tag + "-clean", steps);
    clean.h.start();
    ASSERT_TRUE(test::eventually([&] { return clean.unended() == 0; }, 30min)) << clean.h.log();
    fig.clean_s = seconds_since(t0);
    ASSERT_EQ(clean.count("SELECT count(*) FROM jobqueue WHERE jq_end_bits <> 1"), 0)
        << joined(clean.h.db().rows(
               "SELECT jq_end_bits, jq_endtext, count(*) FROM jobqueue GROUP BY 1, 2"))
        << test::run({"sh", "-c", "cat " + clean.h.conf_dir() + "/log/jobs/*.log | head -50"})
               .output;
    expected = clean.results();
    clean.h.stop(SIGTERM);
  }
  ASSERT_EQ(static_cast<long long>(expected.size()), items * kParts);

  // The chaos run.
  auto t0 = Clock::now();
  Workload run(cluster.conninfo(), tag, steps);
  run.h.start();
  ASSERT_TRUE(run.wait_serving(60s)) << run.h.log();
  std::map<long long, int> kills_of;  // agent kills per step: fewer than max_failures each
  std::set<pid_t> killed;             // this round's
  const double total_rows = static_cast<double>(items * kParts);
  std::size_t next = 0;
  auto restart_scheduler = [&](std::chrono::milliseconds down) {
    run.h.stop(SIGKILL);
    ++fig.scheduler_kills;
    std::this_thread::sleep_for(down);
    run.h.start();
    if (!run.wait_serving(120s)) throw std::runtime_error("the scheduler did not come back");
  };
  auto kill_an_agent = [&]() {
    std::vector<chaos::AgentProc> live;
    for (const auto& a : chaos::tagged_agents(tag))
      if (kills_of[a.jq_pk] < kMaxFailures - 1 && !killed.count(a.pid)) live.push_back(a);
    if (live.empty()) return false;
    const auto& victim = live[rng() % live.size()];
    if (!chaos::kill_tagged(victim.pid, tag)) return false;
    ++kills_of[victim.jq_pk];
    killed.insert(victim.pid);  // (it may still be listed for a moment as it dies)
    ++fig.agent_kills;
    return true;
  };
  while (true) {
    killed.clear();  // the ones of the last round are gone (and their pids may come again)
    long long rows = run.result_rows();
    double done = rows < 0 ? 0 : static_cast<double>(rows) / total_rows;
    while (next < events.size() && events[next].at <= done) {
      const auto kind = events[next].kind;
      if (kind == EventKind::AgentKill) {
        if (!kill_an_agent()) break;  // none running now: the next round
      } else if (kind == EventKind::SchedulerKill) {
        restart_scheduler(std::chrono::milliseconds(rng() % 1500));
      } else if (kind == EventKind::FinalSchedulerKill) {
        // Everything unended is paused (queued steps held, running ones stopped) and the
        // scheduler killed; the last instance comes up with nothing to run, its descriptors
        // are counted, and then every step is released.
        for (const auto& pk :
             run.h.db().rows("SELECT jq_pk FROM jobqueue WHERE jq_endtime IS NULL"))
          run.h.control("pause " + pk);
        ASSERT_TRUE(test::eventually(
            [&] {
              return run.count(
                         "SELECT count(*) FROM jobqueue WHERE jq_endtime IS NULL AND "
                         "jq_endtext IS DISTINCT FROM 'Paused'") == 0;
            },
            60s));
        restart_scheduler(std::chrono::milliseconds(rng() % 1500));
        test::eventually([&] { return chaos::tagged_agents(tag).empty(); }, 20s);
        fig.final_scheduler = run.h.process()->pid();
        fig.fds_start = chaos::settled_fd_count(fig.final_scheduler);
        for (const auto& pk : run.h.db().rows(
                 "SELECT jq_pk FROM jobqueue WHERE jq_endtime IS NULL AND jq_endtext = 'Paused'"))
          run.h.control("restart " + pk);
      } else if (kind == EventKind::PgRestart) {
        cluster.restart();
        ++fig.pg_restarts;
      } else {
        const auto half = std::chrono::milliseconds(sizes.outage_s * 500);
        cluster.down();
        std::this_thread::sleep_for(half);
        if (kind == EventKind::PgOutageWithSchedulerKill) {
          // It waits for the database (--db-wait), then recovers; it serves once that is done.
          run.h.stop(SIGKILL);
          ++fig.scheduler_kills;
          ++fig.kills_in_outage;
          run.h.start();
        }
        std::this_thread::sleep_for(half);
        cluster.up();
        ++fig.pg_restarts;
        ++fig.outages;
        ASSERT_TRUE(run.wait_serving(120s)) << run.h.log();
      }
      ++next;
    }
    if (run.unended() == 0) break;
    ASSERT_LT(seconds_since(t0), 3600) << "the chaos run did not end within an hour";
    std::this_thread::sleep_for(100ms);
  }
  fig.chaos_s = seconds_since(t0);
  fig.events_left = static_cast<int>(events.size() - next);

  // The end: no agent left, the final scheduler idle with its descriptors counted again.
  test::eventually([&] { return chaos::tagged_agents(tag).empty(); }, 20s);
  fig.agents_left = static_cast<int>(chaos::tagged_agents(tag).size());
  if (fig.final_scheduler == 0 && run.h.process()) {  // no scheduler kill planned
    fig.final_scheduler = run.h.process()->pid();
  }
  if (fig.final_scheduler != 0) fig.fds_end = chaos::settled_fd_count(fig.final_scheduler);

  const auto found = run.results();
  const auto [lost, duplicated] = differences(expected, found);
  const long long completed = run.count("SELECT count(*) FROM jobqueue WHERE jq_end_bits = 1");
  const long long failed = run.count("SELECT count(*) FROM jobqueue WHERE jq_end_bits & 2 <> 0");
  const long long unended = run.unended();
  // A dependent's first result is written after its prerequisite's last one.
  const long long order_errors = run.count(
      "WITH span AS (SELECT i.step, min(r.at) AS first, max(r.at) AS last FROM chaos_result r "
      "JOIN chaos_item i ON i.item = r.item GROUP BY i.step) "
      "SELECT count(*) FROM chaos_dep d JOIN span s ON s.step = d.step "
      "JOIN span p ON p.step = d.prereq WHERE s.first <= p.last");

  std::cout << fmt::format(
      "\n==== chaos figures (seed {}; replay: CHAOS_SEED={}{}) ====\n"
      "items                     {} in {} steps ({} SQL-fed, {} plain, {} with prerequisites)\n"
      "steps in a final state    {} of {} (completed {}, failed {})\n"
      "agent kills (SIGKILL)     {}\n"
      "scheduler kills+restarts  {} ({} during the outage)\n"
      "PostgreSQL restarts       {} (outages of {} s: {})\n"
      "chaos events not done     {}\n"
      "result rows expected      {}\n"
      "result rows found         {}\n"
      "rows lost / duplicated    {} / {}\n"
      "dependency order errors   {}\n"
      "agents left               {}\n"
      "scheduler fds start/end   {} / {} (final instance, pid {})\n"
      "time                      chaos run {:.1f} s, clean run {:.1f} s\n"
      "====\n",
      sizes.seed, sizes.seed, sizes.full ? " CHAOS_FULL=1" : "", items, steps.size(), sql_steps,
      steps.size() - static_cast<std::size_t>(sql_steps), with_deps,
      static_cast<long long>(steps.size()) - unended, steps.size(), completed, failed,
      fig.agent_kills, fig.scheduler_kills, fig.kills_in_outage, fig.pg_restarts, sizes.outage_s,
      fig.outages, fig.events_left, expected.size(), found.size(), lost, duplicated, order_errors,
      fig.agents_left, fig.fds_start, fig.fds_end, fig.final_scheduler, fig.chaos_s, fig.clean_s);

  EXPECT_EQ(unended, 0);
  EXPECT_EQ(failed, 0) << joined(run.h.db().rows(
      "SELECT jq_pk || ' ' || jq_endtext FROM jobqueue WHERE jq_end_bits & 2 <> 0"));
  EXPECT_EQ(completed, static_cast<long long>(steps.size()));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(found.size(), expected.size());
  EXPECT_EQ(order_errors, 0);
  EXPECT_EQ(fig.agents_left, 0);
  EXPECT_EQ(fig.fds_end, fig.fds_start);
  EXPECT_EQ(fig.events_left, 0) << "the work ended before the chaos plan was done";
  EXPECT_EQ(fig.agent_kills, sizes.agent_kills);
  EXPECT_EQ(fig.scheduler_kills, sizes.scheduler_kills);
  EXPECT_EQ(fig.pg_restarts, sizes.pg_restarts);
}

}  // namespace
