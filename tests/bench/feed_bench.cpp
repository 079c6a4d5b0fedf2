// feed_bench: throughput and memory of SQL-fed steps (docs/feeding.md), built but not run by
// the test suite. A real scheduler (SchedulerHarness) feeds `SELECT id, k FROM generate_series`
// rows to trivial agents (fake_agent --window=256: OK per line, no work):
//   rows/s  on one host (2 agents) and on three hosts h1..h3 with [repository] ranges
//           (2 agents each); local hosts, and ssh hosts when the sshd fixture is up;
//   RSS     the scheduler's peak RSS (VmHWM) after feeding 100,000 and 1,000,000 rows.
// Usage: feed_bench [rows-for-throughput (default 200000)]. Needs JOBLINE_BUILD_DIR and
// JOBLINE_TEST_STATE (see docs/testing.md) and the pg fixture; starts it when it is not up
// (and stops it again).
//
// Issue 18's benchmarks, printed as RESULT lines (bench_result.hpp):
//   feed_bench --replay ROWS   (d) rows/s with 1 and 2 agents (window_agent; fake_agent
//                              beside them) against the same statements replayed without
//                              the scheduler (feed_replay.hpp), peak RSS
//   feed_bench --xargs ITEMS [M]  (f) ITEMS items through 2 window_agents against the same
//                              agent run per item by `xargs -P 2 -n 1` and GNU `parallel` on
//                              the first M of them (default all; each item is a process
//                              there, so its rate does not depend on the count)
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "bench_result.hpp"
#include "bench_wait.hpp"
#include "feed_replay.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Outcome {
  double seconds = 0;
  long long rows = 0;
  long hwm_kib = 0;
  std::string endtext;
};

long vm_hwm_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// The agent the rows go to. fake_agent --window=256 is the tests' hand-written agent: it writes
// an `ItemsProcessed 1` and an `OK` for every row (two write(2)s). window_agent --window=256
// --items=1024 is the least a libagent agent can do (benchmarks a and f): one write(2) an OK,
// its items reported once per 1,024.
enum class Agent { kFake, kLibagent };

test::SchedulerSettings settings(int hosts, bool ssh, int per_host = 2,
                                 Agent agent = Agent::kFake) {
  test::SchedulerSettings s = bench::scheduler_settings();
  s.heartbeat_timeout = 600;
  s.startup_timeout = 30;
  s.hosts.clear();
  const char* ranges[] = {"00 54", "55 aa", "ab ff"};
  for (int i = 0; i < hosts; ++i) {
    std::string name = fmt::format("h{}", i + 1);
    s.hosts.push_back({name, ssh ? "127.0.0.1" : "localhost", "", per_host});
    if (hosts > 1) s.repository.push_back(name + " = " + ranges[i]);
  }
  if (ssh) s.ssh_command = test::ssh_command();
  const std::string lib = test::build_dir() + "/tests/bench/window_agent --window=256 --items=1024";
  s.agents = {agent == Agent::kFake ? test::fake_agent("trivial", "--window=256")
                                    : test::AgentConf{"trivial", lib, -1, "", false, ""}};
  return s;
}

// capture: the feed connection's statements are logged (log_statement) and returned in
// *statements, for feed_replay.
Outcome run(long long rows, int hosts, bool ssh, int per_host = 2,
            std::vector<Statement>* statements = nullptr, Agent agent = Agent::kFake) {
  test::SchedulerHarness h(settings(hosts, ssh, per_host, agent));
  LogMark mark;
  if (statements) {
    h.db().query(fmt::format("ALTER DATABASE {} SET log_statement = 'all'", h.db().name()));
    mark = log_mark();
  }
  h.start();
  test::Session db(h.db().conninfo());
  test::SchedulerHarness::Step step;
  step.type = "trivial";
  step.args = fmt::format("SELECT i AS id, md5(i::text) AS k FROM generate_series(1, {}) i", rows);
  step.runonpfile = "k";
  long long pk = bench::queue(db, step);
  Outcome out;
  if (!bench::wait_ended(db, pk, 3600s)) throw std::runtime_error("step did not end:\n" + h.log());
  out.seconds = bench::step_seconds(db, pk);  // jq_starttime to jq_endtime
  out.rows = h.items(pk);
  out.endtext = h.endtext(pk);
  out.hwm_kib = vm_hwm_kib(h.process()->pid());
  if (statements) *statements = feed_statements(mark);
  return out;
}

void report(const std::string& what, const Outcome& o) {
  std::cout << fmt::format(
                   "{:<34} {:>9} rows in {:7.2f} s = {:>8.0f} rows/s, scheduler VmHWM "
                   "{:>7} KiB ({})",
                   what, o.rows, o.seconds, static_cast<double>(o.rows) / o.seconds, o.hwm_kib,
                   o.endtext)
            << std::endl;
}

// (d): 1 and 2 agents on one host, the statements of the 2-agent run captured and replayed.
// The agents are window_agents (libagent's least); the same runs with fake_agent (two writes a
// row where they make one) are shown beside them.
void vs_replay(long long rows) {
  Outcome one = run(rows, 1, false, 1, nullptr, Agent::kLibagent);
  report(fmt::format("{} rows, 1 agent", rows), one);
  Outcome fake_one = run(rows, 1, false, 1, nullptr, Agent::kFake);
  report(fmt::format("{} rows, 1 fake_agent", rows), fake_one);
  Outcome two = run(rows, 1, false, 2, nullptr, Agent::kLibagent);
  report(fmt::format("{} rows, 2 agents", rows), two);
  Outcome fake_two = run(rows, 1, false, 2, nullptr, Agent::kFake);
  report(fmt::format("{} rows, 2 fake_agents", rows), fake_two);
  std::vector<Statement> statements;
  Outcome logged = run(rows, 1, false, 2, &statements, Agent::kLibagent);
  report(fmt::format("{} rows, 2 agents, statements logged", rows), logged);
  double replay_s = 0;
  {
    test::TempDatabase db;
    replay_s = replay(db.conninfo(), statements);
  }
  double replay_rate = static_cast<double>(rows) / replay_s;
  std::map<std::string, int> kinds;  // what was replayed, by the statement's first two words
  for (const auto& st : statements) {
    std::istringstream words(st.text);
    std::string a, b;
    words >> a >> b;
    ++kinds[a + " " + b];
  }
  for (const auto& [kind, count] : kinds) fmt::print("    replayed {:5} x {}\n", count, kind);
  fmt::print(
      "(d) the feed connection's {} statements replayed by libpq alone: {:.2f} s = {:.0f} "
      "rows/s\n",
      statements.size(), replay_s, replay_rate);
  Outcome small = run(rows / 10, 1, false, 2, nullptr, Agent::kLibagent);
  report(fmt::format("{} rows, 2 agents", rows / 10), small);
  for (auto [agents, o] : {std::pair{1, one}, std::pair{2, two}}) {
    double rate = static_cast<double>(o.rows) / o.seconds;
    bench::at_least(fmt::format("d.rows.agents{}", agents),
                    fmt::format("SQL-fed rows/s, {} rows, {} agent(s)", rows, agents), rate,
                    "rows/s", "the same statements replayed without the scheduler", replay_rate,
                    0.8);
    bench::at_least(fmt::format("d.rows.agents{}.abs", agents),
                    fmt::format("SQL-fed rows/s, {} agent(s), against 100,000 rows/s", agents),
                    rate, "rows/s", "100,000 rows/s (fixed)", 100000, 1);
    if (o.endtext != "Completed" || o.rows != rows)
      fmt::print("    WARNING: {} agent(s): {} of {} rows, {}\n", agents, o.rows, rows, o.endtext);
  }
  for (auto [agents, o] : {std::pair{1, fake_one}, std::pair{2, fake_two}}) {
    double rate = static_cast<double>(o.rows) / o.seconds;
    bench::at_least(fmt::format("d.rows.agents{}.fake_agent", agents),
                    fmt::format("SQL-fed rows/s, {} rows, {} fake_agent(s)", rows, agents), rate,
                    "rows/s", "the same statements replayed without the scheduler", replay_rate, 0);
    if (o.endtext != "Completed" || o.rows != rows)
      fmt::print("    WARNING: {} fake_agent(s): {} of {} rows, {}\n", agents, o.rows, rows,
                 o.endtext);
  }
  long peak = std::max(one.hwm_kib, two.hwm_kib);
  double growth = static_cast<double>(peak) / static_cast<double>(small.hwm_kib);
  bench::result(
      "d.rss", fmt::format("scheduler peak RSS (VmHWM), {} rows", rows),
      static_cast<double>(peak) / 1024, "MB", fmt::format("the same for {} rows", rows / 10),
      static_cast<double>(small.hwm_kib) / 1024, growth, "flat: <= 1.1x", growth <= 1.1 ? 1 : 0);
}

// Seconds that `sh -c command` took (it must exit 0).
double timed_shell(const std::string& command) {
  auto t0 = Clock::now();
  auto r = test::run({"/bin/sh", "-c", command}, {}, std::chrono::minutes(20));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (r.exit_code() != 0) throw std::runtime_error(command + " failed:\n" + r.output);
  return s;
}

// (f): the same items through jobline (2 window_agents, WINDOW 32), xargs and GNU parallel.
void vs_xargs(long long items, long long sample) {
  std::string agent = test::build_dir() + "/tests/bench/window_agent";
  test::SchedulerSettings s = settings(1, false, 2);
  s.agents = {test::AgentConf{"win", agent + " --window=32", 2, "", false, ""}};
  test::SchedulerHarness h(s);
  h.start();
  test::Session db(h.db().conninfo());
  test::SchedulerHarness::Step step;
  step.type = "win";
  step.args = fmt::format("SELECT md5(i::text) AS k FROM generate_series(1, {}) i", items);
  step.runonpfile = "k";
  long long pk = bench::queue(db, step);
  if (!bench::wait_ended(db, pk, 600s) || h.endtext(pk) != "Completed")
    throw std::runtime_error("(f) the step did not complete:\n" + h.log());
  double secs = std::stod(db.query(fmt::format(
      "SELECT extract(epoch FROM jq_endtime - job_queued) FROM jobqueue JOIN job ON job_pk = "
      "jq_job_fk WHERE jq_pk = {}",
      pk)));
  double rate = static_cast<double>(items) / secs;
  test::TempDir dir;
  std::string list = dir.path() + "/items";
  {
    std::ofstream out(list);
    for (const auto& k :
         h.db().rows(fmt::format("SELECT md5(i::text) FROM generate_series(1, {}) i", sample)))
      out << k << "\n";
  }
  h.stop();
  double xargs_s = timed_shell("xargs -P 2 -n 1 " + agent + " < " + list);
  double xargs = static_cast<double>(sample) / xargs_s;
  fmt::print(
      "(f) {} items: jobline {:.2f} s = {:.0f}/s; the first {} by xargs -P 2 -n 1: {:.2f} "
      "s = {:.0f}/s\n",
      items, secs, rate, sample, xargs_s, xargs);
  std::string same = sample == items ? "same items" : fmt::format("first {} items", sample);
  bench::at_least("f.xargs", fmt::format("{} items via jobline (2 agents, INSERT to end)", items),
                  rate, "items/s", "xargs -P 2 -n 1, same agent, " + same, xargs, 100);
  if (test::run({"/bin/sh", "-c", "command -v parallel"}).exit_code() != 0) {
    fmt::print("(f) GNU parallel is not installed: skipped\n");
    return;
  }
  double par_s = timed_shell("parallel --will-cite -j 2 -n 1 " + agent + " < " + list);
  double par = static_cast<double>(sample) / par_s;
  fmt::print("    GNU parallel -j 2 -n 1: {:.2f} s = {:.0f}/s\n", par_s, par);
  bench::at_least("f.parallel", fmt::format("{} items via jobline, against GNU parallel", items),
                  rate, "items/s", "parallel -j 2 -n 1, same agent, " + same, par, 0);
}

}  // namespace

int main(int argc, char** argv) try {
  if (!std::getenv("JOBLINE_TEST_STATE") || !std::getenv("JOBLINE_BUILD_DIR")) {
    std::cerr << "feed_bench: set JOBLINE_BUILD_DIR and JOBLINE_TEST_STATE (docs/testing.md)\n";
    return 2;
  }
  bench::PgFixture pg;
  std::string first = argc > 1 ? argv[1] : "";
  if (first == "--replay" || first == "--xargs") {
    long long n = argc > 2 ? std::stoll(argv[2]) : (first == "--replay" ? 1000000 : 10000);
    if (first == "--replay")
      vs_replay(n);
    else
      vs_xargs(n, std::min(n, argc > 3 ? std::stoll(argv[3]) : n));
    return 0;
  }
  long long rows = argc > 1 ? std::stoll(argv[1]) : 200000;
  report("local, 1 host x 2 agents", run(rows, 1, false));
  report("local, 3 hosts x 2 agents", run(rows, 3, false));
  bool ssh =
      std::filesystem::exists(std::string(std::getenv("JOBLINE_TEST_STATE")) + "/sshd/ssh_command");
  if (ssh) {
    report("ssh, 1 host x 2 agents", run(rows, 1, true));
    report("ssh, 3 hosts x 2 agents", run(rows, 3, true));
  } else {
    std::cout << "(ssh hosts skipped: the sshd fixture is not up)\n";
  }
  report("memory, 100,000 rows, 1 host", run(100000, 1, false));
  report("memory, 1,000,000 rows, 1 host", run(1000000, 1, false));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "feed_bench: " << e.what() << "\n";
  return 1;
}
