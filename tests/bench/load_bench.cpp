// load_bench: issue 18 benchmark (e) — the scheduler under load, built but not run by CTest;
// prints RESULT lines (bench_result.hpp).
//   drain  N one-line plain steps (fake_agent --ok; one job each, queued in one statement)
//          drained at host max 8 — all of them, or the first D (the scheduler then has the
//          rest still queued throughout, and a full drain of 100,000 takes longer than
//          ./run bench may): the scheduler's peak RSS (VmHWM) and its own CPU time (utime +
//          stime from /proc, agents not included) per step;
//   500    one SQL-fed step of 500 x 40 rows fed to 500 agents at once (fake_agent --ok
//          --work-ms=100, agent max 500): peak RSS, CPU per item, and, once all 500 run, the
//          INSERT -> first OK latency of a new plain step of stamp_agent (median of 10),
//          against the same agent spawned by hand right after each (bench_spawn.hpp);
//   left out  N one-line steps of a type at max 1 queued at host max 8: the INSERT -> first OK
//          of a new step of another type while they drain (median of S), against the same
//          before they were queued: the poll must not read through their backlog.
// Usage: load_bench [steps N (100000)] [agents (500)] [drained (all steps)] [samples S (20)];
// 0 agents, drained or S leaves that part out. Needs JOBLINE_BUILD_DIR, JOBLINE_SOURCE_DIR,
// JOBLINE_TEST_STATE and the pg fixture up (docs/testing.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_result.hpp"
#include "bench_spawn.hpp"
#include "bench_wait.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long status_kib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

// Children of any of the process's threads.
std::size_t children(pid_t pid) {
  std::set<std::string> kids;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
    std::ifstream in(task.path() / "children");
    for (std::string k; in >> k;) kids.insert(k);
  }
  return kids.size();
}

void drain(long steps, long drained) {
  test::SchedulerSettings s = bench::scheduler_settings();
  s.heartbeat_timeout = 600;
  s.hosts[0].max = 8;
  s.agents = {test::fake_agent("ok", "--ok")};
  test::SchedulerHarness& h = bench::kept_harness(s);
  h.start();
  bench::wait_running(h);
  test::Session db(h.db().conninfo());
  pid_t pid = h.process()->pid();
  double cpu0 = bench::cpu_seconds(pid);
  fmt::print("(e) queueing {} one-line steps ...\n", steps);
  db.query(fmt::format(
      "SELECT count(queue_step(queue_job('bench'), 'ok', 'x' || g)) FROM generate_series(1, {}) g",
      steps));
  auto t0 = Clock::now(), shown = t0;
  long ended = 0;
  while (ended < drained) {
    sleep(1);
    ended = std::stol(db.query("SELECT count(*) FROM jobqueue WHERE jq_endtime IS NOT NULL"));
    if (Clock::now() - shown > 15s) {
      shown = Clock::now();
      fmt::print("    {} of {} steps ended after {:.0f} s, scheduler RSS {} KiB\n", ended, drained,
                 std::chrono::duration<double>(shown - t0).count(), status_kib(pid, "VmRSS"));
      std::cout << std::flush;
    }
    if (Clock::now() - t0 > 30min) throw std::runtime_error("the steps did not drain in 30 min");
  }
  double cpu = bench::cpu_seconds(pid) - cpu0;
  long hwm = status_kib(pid, "VmHWM");
  std::string completed = db.query("SELECT count(*) FROM jobqueue WHERE jq_endtext = 'Completed'");
  double secs =
      std::stod(db.query("SELECT extract(epoch FROM max(jq_endtime) - min(job_queued)) "
                         "FROM jobqueue JOIN job ON job_pk = jq_job_fk"));
  fmt::print(
      "    {} steps ended in {:.1f} s ({:.0f} steps/s, {} Completed); scheduler CPU "
      "{:.2f} s, VmHWM {} KiB\n",
      ended, secs, static_cast<double>(ended) / secs, completed, cpu, hwm);
  double ms = cpu * 1000 / static_cast<double>(ended);
  std::string what = ended >= steps
                         ? fmt::format("{} queued steps drained", steps)
                         : fmt::format("{} steps queued, the first {} drained", steps, ended);
  bench::result("e.drain.rss", "scheduler peak RSS, " + what, static_cast<double>(hwm) / 1024, "MB",
                "64 MB (fixed)", 64, static_cast<double>(hwm) / 1024 / 64, "<= 64 MB",
                hwm <= 64 * 1024 ? 1 : 0);
  bench::result("e.drain.cpu", "scheduler CPU per step, " + what + ", host max 8", ms, "ms/step",
                "0.3 ms (fixed)", 0.3, ms / 0.3, "<= 0.3 ms", ms <= 0.3 ? 1 : 0);
  h.stop(SIGQUIT);  // the steps not drained stay queued
}

// INSERT -> first OK of a new step of stamp_agent (type `stamp`, writing into `dir`), from the
// database's clock at the INSERT to the agent's own at its OK. Queued through `db`.
double first_ok_ms(test::Session& db, const std::string& dir) {
  auto row = db.rows(
      "SELECT queue_step(queue_job('bench'), 'stamp', 'x'), "
      "(extract(epoch FROM clock_timestamp()) * 1e9)::bigint");
  auto bar = row.at(0).find('|');
  std::string file = dir + "/" + row[0].substr(0, bar);
  if (!test::eventually([&] { return std::filesystem::exists(file); }, 60s))
    throw std::runtime_error("the stamp step never said OK");
  long long ok = 0;
  std::ifstream(file) >> ok;
  return static_cast<double>(ok - std::stoll(row[0].substr(bar + 1))) / 1e6;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

// A type at max 1 with `queued` steps (one-line, fake_agent --ok) draining at host max 8: the
// other 7 slots stay free, so the poll that a new step's NOTIFY starts must reach past the
// type's backlog without reading through it (kReadyStepsByGroup). The first OK of a new step of
// another type then (median of `samples`), against the same before anything was queued.
void left_out(long queued, int samples) {
  std::string stamp = test::build_dir() + "/tests/bench/stamp_agent";
  test::TempDir dir;
  test::SchedulerSettings s = bench::scheduler_settings();
  s.heartbeat_timeout = 600;
  s.hosts[0].max = 8;
  s.agents = {test::fake_agent("one", "--ok", 1),
              test::AgentConf{"stamp", stamp + " " + dir.path(), -1, "", false, ""}};
  test::SchedulerHarness& h = bench::kept_harness(s);
  h.start();
  bench::wait_running(h);
  test::Session db(h.db().conninfo());
  std::vector<double> idle, behind;
  for (int i = 0; i < samples; ++i) idle.push_back(first_ok_ms(db, dir.path()));
  fmt::print("(e) {} one-line steps of a type at max 1 queued ...\n", queued);
  std::string first = db.query(fmt::format(
      "SELECT min(queue_step(queue_job('bench'), 'one', 'x' || g)) FROM generate_series(1, {}) g",
      queued));
  long long warm = std::stoll(first) + std::min(queued, 31L) - 1;  // (the drain is under way)
  if (!bench::wait_ended(db, warm, 120s))
    throw std::runtime_error("the steps of the type at max 1 do not run");
  pid_t pid = h.process()->pid();
  bench::BackendsCpu pg(h, db);
  double cpu0 = bench::cpu_seconds(pid), pg0 = pg.seconds();
  auto t0 = Clock::now();
  for (int i = 0; i < samples; ++i) behind.push_back(first_ok_ms(db, dir.path()));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = bench::cpu_seconds(pid) - cpu0, pgcpu = pg.seconds() - pg0;
  std::string ended = db.query("SELECT count(*) FROM jobqueue WHERE jq_endtime IS NOT NULL");
  h.stop(SIGQUIT);  // the steps not drained stay queued
  double with = median_of(behind), without = median_of(idle);
  fmt::print(
      "    first OK of a new step: median {:.2f} ms of {} with the type's steps queued ({:.1f} s: "
      "CPU of the scheduler {:.0f} %, of its database connections {:.0f} %; {} steps ended), "
      "{:.2f} ms before\n",
      with, behind.size(), secs, cpu * 100 / secs, pgcpu * 100 / secs, ended, without);
  bench::result("e.leftout.first_ok",
                fmt::format("INSERT -> first OK of a new step while a type at max 1 has {} queued "
                            "and 7 slots are free (median of {})",
                            queued, samples),
                with, "ms", "the same before they were queued (median)", without, with / without,
                "-", -1);
}

void five_hundred(int agents) {
  std::string stamp = test::build_dir() + "/tests/bench/stamp_agent";
  test::TempDir dir;
  test::SchedulerSettings s = bench::scheduler_settings();
  s.heartbeat_timeout = 600;
  s.startup_timeout = 120;
  s.poll_interval = 60;
  s.hosts[0].max = agents + 8;
  s.agents = {test::fake_agent("busy", "--ok --work-ms=100", agents),
              test::AgentConf{"stamp", stamp + " " + dir.path(), -1, "", false, ""}};
  test::SchedulerHarness& h = bench::kept_harness(s);
  h.start();
  bench::wait_running(h);
  pid_t pid = h.process()->pid();
  double cpu0 = bench::cpu_seconds(pid);
  long rows = 40L * agents;
  test::SchedulerHarness::Step step;
  step.type = "busy";
  step.args = fmt::format("SELECT md5(i::text) AS k FROM generate_series(1, {}) i", rows);
  step.runonpfile = "k";
  test::Session db(h.db().conninfo());
  long long busy = bench::queue(db, step);
  auto t0 = Clock::now();
  std::size_t running = 0;
  while ((running = children(pid)) < static_cast<std::size_t>(agents)) {
    if (Clock::now() - t0 > 120s)
      throw std::runtime_error(fmt::format("only {} of {} agents started", running, agents));
    usleep(100'000);
  }
  fmt::print("(e) {} agents running after {:.1f} s\n", running,
             std::chrono::duration<double>(Clock::now() - t0).count());
  std::vector<double> ms, spawn_ms;
  for (int i = 0; i < 10 && children(pid) >= static_cast<std::size_t>(agents); ++i) {
    ms.push_back(first_ok_ms(db, dir.path()));
    // The same agent spawned by hand right after, under the same load: what the VM itself
    // takes to start a process and read its OK at this moment.
    spawn_ms.push_back(bench::spawn_to_ok_ms(stamp, dir.path()));
  }
  if (!bench::wait_ended(db, busy, 600s)) throw std::runtime_error("the busy step did not end");
  double cpu = bench::cpu_seconds(pid) - cpu0;
  long hwm = status_kib(pid, "VmHWM");
  long long items = h.items(busy);
  double median = median_of(ms), spawn = median_of(spawn_ms);
  fmt::print(
      "    {} items ({}), scheduler CPU {:.2f} s, VmHWM {} KiB; first OK of a new step: "
      "median {:.2f} ms of {}; bare spawn -> OK of the same agent meanwhile: median {:.2f} ms\n",
      items, h.endtext(busy), cpu, hwm, median, ms.size(), spawn);
  double per_item = cpu * 1000 / static_cast<double>(items);
  bench::result("e.500.rss", fmt::format("scheduler peak RSS, {} agents at once", agents),
                static_cast<double>(hwm) / 1024, "MB", "64 MB (fixed)", 64,
                static_cast<double>(hwm) / 1024 / 64, "<= 64 MB", hwm <= 64 * 1024 ? 1 : 0);
  bench::result(
      "e.500.cpu_item",
      fmt::format("scheduler CPU per item, {} agents (whole step, spawns included)", agents),
      per_item, "ms/item", "-", 0, NAN, "-", -1);
  bench::result("e.500.first_ok",
                fmt::format("INSERT -> first OK of a new step while {} run (median of {})", agents,
                            ms.size()),
                median, "ms", "5 ms (fixed)", 5, median / 5, "<= 5 ms", median <= 5 ? 1 : 0);
  bench::result(
      "e.500.first_ok.spawn",
      fmt::format("INSERT -> first OK while {} run, against the agent's own start", agents), median,
      "ms", "bare spawn->OK of the agent, each right after a step's (median)", spawn,
      median / spawn, "-", -1);
  h.stop();
}

}  // namespace

int main(int argc, char** argv) try {
  for (const char* var : {"JOBLINE_BUILD_DIR", "JOBLINE_SOURCE_DIR", "JOBLINE_TEST_STATE"})
    if (!std::getenv(var)) throw std::runtime_error(std::string("set ") + var);
  long steps = argc > 1 ? std::atol(argv[1]) : 100000;
  int agents = argc > 2 ? std::atoi(argv[2]) : 500;
  long drained = argc > 3 ? std::min(steps, std::atol(argv[3])) : steps;
  int samples = argc > 4 ? std::atoi(argv[4]) : 20;
  if (agents > 0) five_hundred(agents);
  if (drained > 0) drain(steps, drained);
  if (samples > 0) left_out(steps, samples);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "load_bench: " << e.what() << "\n";
  return 1;
}
