// bench_scheduler: issue 4's two measurements of the scheduler, built but not run by CTest.
//   (a) latency from the INSERT of a step (clock_timestamp() in the inserting transaction, which
//       commits right after) to the moment its agent writes OK: the agent is stamp_agent (libc
//       only), writing CLOCK_REALTIME in ns to a file just before its OK. One step at a
//       time on an idle scheduler (poll_interval 60 s: NOTIFY does the waking); median and p90.
//   (b) throughput: one-line plain steps of fake_agent --ok completed per second (500 steps
//       queued in one INSERT) with host max 1, 2 and 8, against how many times per second the
//       same binary can merely be spawned and waited for as many at a time (issue 18: target
//       0.9x), as ratios and RESULT lines (id, what, figure, unit, limit-what, limit, ratio,
//       target, met; tab-separated).
// Usage: bench_scheduler [samples (50)] [steps (500)] [widths (1,2,8)]. Needs JOBLINE_BUILD_DIR,
// JOBLINE_SOURCE_DIR and JOBLINE_TEST_STATE (docs/testing.md); starts the pg fixture when it
// is not up (and stops it again).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scheduler_harness.hpp"
#include "support.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void latency(int samples) {
  std::string agent = test::build_dir() + "/tests/bench/stamp_agent";
  test::TempDir dir;
  test::SchedulerSettings s;
  s.poll_interval = 60;
  s.heartbeat_timeout = 600;
  s.agents = {test::AgentConf{"stamp", agent + " " + dir.path(), -1, "", false, ""}};
  test::SchedulerHarness h(s);
  h.start();
  if (!test::eventually([&] { return h.log().find("scheduler started") != std::string::npos; }))
    throw std::runtime_error("the scheduler did not start:\n" + h.log());
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    auto row = h.db().rows(
        "SELECT queue_step(queue_job('bench'), 'stamp', 'x'), "
        "(extract(epoch FROM clock_timestamp()) * 1e9)::bigint");
    auto bar = row.at(0).find('|');
    long long jq = std::stoll(row[0].substr(0, bar));
    long long inserted = std::stoll(row[0].substr(bar + 1));
    std::string file = dir.path() + "/" + std::to_string(jq);
    if (!test::eventually([&] { return std::filesystem::exists(file); }, 30s))
      throw std::runtime_error("step " + std::to_string(jq) + " never said OK:\n" + h.log());
    long long ok = 0;
    std::ifstream(file) >> ok;
    ms.push_back(static_cast<double>(ok - inserted) / 1e6);
    if (!h.wait_ended(jq, 30s)) throw std::runtime_error("step did not end:\n" + h.log());
  }
  fmt::print("(a) INSERT -> agent's first OK, {} steps one at a time:\n", samples);
  fmt::print("    median {:.2f} ms   p90 {:.2f} ms   min {:.2f} ms   max {:.2f} ms\n",
             percentile(ms, 0.5), percentile(ms, 0.9), *std::min_element(ms.begin(), ms.end()),
             *std::max_element(ms.begin(), ms.end()));
}

// Spawns `argv` `n` times, `parallel` at a time, each with stdin /dev/null; returns per second.
double spawn_rate(const std::vector<std::string>& args, int n, int parallel) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  auto t0 = Clock::now();
  int running = 0, started = 0;
  while (started < n || running > 0) {
    while (started < n && running < parallel) {
      pid_t pid;
      if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("posix_spawn failed");
      ++started;
      ++running;
    }
    int status = 0;
    if (::wait(&status) > 0) --running;
  }
  posix_spawn_file_actions_destroy(&fa);
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

void throughput(int steps, int width) {
  std::string fake = test::build_dir() + "/tests/agents/fake_agent/fake_agent";
  test::SchedulerSettings s;
  s.heartbeat_timeout = 600;
  s.hosts[0].max = width;
  s.agents = {test::fake_agent("ok", "--ok")};
  double par_before = spawn_rate({fake, "--ok", "--scheduler_start"}, steps, width);
  test::SchedulerHarness h(s);
  h.start();
  if (!test::eventually([&] { return h.log().find("scheduler started") != std::string::npos; }))
    throw std::runtime_error("the scheduler did not start:\n" + h.log());
  h.db().query(fmt::format(
      "SELECT count(queue_step(queue_job('bench'), 'ok', 'x' || g)) FROM generate_series(1, {}) g",
      steps));
  // Completion is checked every 250 ms only (each check is a new connection, which costs CPU
  // on a 2-core machine); the rate comes from the database's own clock: from the queueing
  // transaction (job_queued) to the last jq_endtime.
  std::string done;
  auto deadline = Clock::now() + 600s;
  for (;;) {
    done = h.db().query(
        "SELECT count(*) FILTER (WHERE jq_endtime IS NOT NULL) || '/' || "
        "count(*) FILTER (WHERE jq_endtext = 'Completed') FROM jobqueue");
    if (done.rfind(std::to_string(steps) + "/", 0) == 0 || Clock::now() > deadline) break;
    usleep(250'000);
  }
  if (done != fmt::format("{}/{}", steps, steps))
    throw std::runtime_error("not all steps completed (ended/completed " + done + ")");
  double secs =
      std::stod(h.db().query("SELECT extract(epoch FROM max(jq_endtime) - min(job_queued)) "
                             "FROM jobqueue JOIN job ON job_pk = jq_job_fk"));
  double rate = steps / secs;
  // The scheduler's own CPU per step (user + system), steadier than rates on a loaded machine.
  double cpu_ms = 0;
  {
    std::ifstream stat("/proc/" + std::to_string(h.process()->pid()) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream rest(all.substr(all.rfind(')') + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(rest)),
                               std::istream_iterator<std::string>());
    if (f.size() > 12)
      cpu_ms = (std::stod(f[11]) + std::stod(f[12])) * 1000.0 /
               static_cast<double>(sysconf(_SC_CLK_TCK)) / steps;
  }
  std::vector<std::string> argv{fake, "--ok", "--scheduler_start"};
  // The bare rate is measured once before the scheduler ran (par_before, see the top of this
  // function) and once after; their mean is the limit (the machine's load drifts).
  double seq = spawn_rate(argv, steps, 1);
  double par = (par_before + spawn_rate(argv, steps, width)) / 2;
  fmt::print("(b) {} one-line steps of fake_agent --ok, host max {}: {:.2f} s = {:.1f} steps/s\n",
             steps, width, secs, rate);
  fmt::print("    bare spawn+wait of the same binary: {:.1f}/s sequential, {:.1f}/s {} at a time\n",
             seq, par, width);
  fmt::print("    scheduler CPU {:.3f} ms per step\n", cpu_ms);
  fmt::print("    ratio steps/s : spawns/s = {:.3f} (sequential), {:.3f} ({} at a time)\n",
             rate / seq, rate / par, width);
  double ratio = rate / par;
  fmt::print(
      "RESULT\tsteps.w{}\tone-line steps/s, host max {}\t{:.1f}\tsteps/s\t"
      "bare spawn+wait {} at a time\t{:.1f}\t{:.3f}\t0.9\t{}\n",
      width, width, rate, width, par, ratio, ratio >= 0.9 ? "yes" : "no");
  std::fflush(stdout);
}

bool start_pg() {
  std::string state = std::string(std::getenv("JOBLINE_TEST_STATE")) + "/pg";
  if (std::filesystem::exists(state + "/conninfo")) return false;
  auto r = test::run({test::source_dir() + "/tests/fixtures/pg_cluster.sh", "start", state});
  if (r.exit_code() != 0) throw std::runtime_error("cannot start the pg fixture:\n" + r.output);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  for (const char* var : {"JOBLINE_BUILD_DIR", "JOBLINE_SOURCE_DIR", "JOBLINE_TEST_STATE"}) {
    if (!std::getenv(var)) {
      std::cerr << "bench_scheduler: set " << var << " (docs/testing.md)\n";
      return 2;
    }
  }
  int samples = argc > 1 ? std::atoi(argv[1]) : 50;
  int steps = argc > 2 ? std::atoi(argv[2]) : 500;
  std::vector<int> widths;
  for (std::string w : {std::string(argc > 3 ? argv[3] : "1,2,8")}) {
    for (std::size_t at = 0; at < w.size();) {
      std::size_t comma = std::min(w.find(',', at), w.size());
      widths.push_back(std::atoi(w.substr(at, comma - at).c_str()));
      at = comma + 1;
    }
  }
  bool started = false;
  try {
    started = start_pg();
    if (samples > 0) latency(samples);
    for (int w : widths) throughput(steps, w);
  } catch (const std::exception& e) {
    std::cerr << "bench_scheduler: " << e.what() << "\n";
    if (started)
      test::run({test::source_dir() + "/tests/fixtures/pg_cluster.sh", "stop",
                 std::string(std::getenv("JOBLINE_TEST_STATE")) + "/pg"});
    return 1;
  }
  if (started)
    test::run({test::source_dir() + "/tests/fixtures/pg_cluster.sh", "stop",
               std::string(std::getenv("JOBLINE_TEST_STATE")) + "/pg"});
  return 0;
}
