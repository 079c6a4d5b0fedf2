// bench_scheduler: issue 18 benchmarks (b) and (c) (issue 4's two measurements), built but not
// run by CTest; prints RESULT lines (bench_result.hpp).
//   (b) latency from the INSERT of a step (clock_timestamp() in the inserting transaction, which
//       commits right after) to the moment its agent writes OK, and to the step's jq_endtime:
//       the agent is stamp_agent (libc only), writing CLOCK_REALTIME in ns to a file just
//       before its OK. One step at a time on an idle scheduler (poll_interval 60 s: NOTIFY does
//       the waking); median and p99, against the agent's own spawn time (posix_spawn until its
//       OK is read from its stdout, same count, median and p99).
//   (c) throughput: one-line plain steps of fake_agent --ok completed per second (steps
//       queued in one INSERT) at host max 1, 2 and 8, against how many times per second the
//       same binary can merely be spawned and waited for at that width, as ratios; three
//       rounds of both in turn, the best of each.
// Usage: bench_scheduler [samples (200)] [steps (500)]. Needs JOBLINE_BUILD_DIR,
// JOBLINE_SOURCE_DIR and JOBLINE_TEST_STATE (docs/testing.md); starts the pg fixture when it
// is not up (and stops it again).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
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

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void latency(int samples) {
  std::string agent = test::build_dir() + "/tests/bench/stamp_agent";
  test::TempDir dir;
  test::SchedulerSettings s = bench::scheduler_settings();
  s.poll_interval = 60;
  s.heartbeat_timeout = 600;
  s.agents = {test::AgentConf{"stamp", agent + " " + dir.path(), -1, "", false, ""}};
  test::SchedulerHarness& h = bench::kept_harness(s);
  h.start();
  bench::wait_running(h);
  test::Session db(h.db().conninfo());
  std::vector<double> ok_ms, end_ms, spawn_ms;
  for (int i = 0; i < samples; ++i) {
    auto row = db.rows(
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
    ok_ms.push_back(static_cast<double>(ok - inserted) / 1e6);
    // Its end, polled every 10 ms through the session (the time is the database's).
    std::string ended;
    if (!test::eventually(
            [&] {
              ended =
                  db.query(fmt::format("SELECT (extract(epoch FROM jq_endtime) * 1e9)::bigint "
                                       "FROM jobqueue WHERE jq_pk = {}",
                                       jq));
              return !ended.empty();
            },
            30s))
      throw std::runtime_error("step did not end:\n" + h.log());
    end_ms.push_back(static_cast<double>(std::stoll(ended) - inserted) / 1e6);
    spawn_ms.push_back(bench::spawn_to_ok_ms(agent, dir.path()));
  }
  double spawn = percentile(spawn_ms, 0.5), ok50 = percentile(ok_ms, 0.5);
  double ok99 = percentile(ok_ms, 0.99), end50 = percentile(end_ms, 0.5);
  double end99 = percentile(end_ms, 0.99), spawn99 = percentile(spawn_ms, 0.99);
  fmt::print("(b) INSERT -> agent's first OK, {} steps one at a time:\n", samples);
  fmt::print("    median {:.2f} ms   p99 {:.2f} ms   min {:.2f} ms   max {:.2f} ms\n", ok50, ok99,
             *std::min_element(ok_ms.begin(), ok_ms.end()),
             *std::max_element(ok_ms.begin(), ok_ms.end()));
  fmt::print("    INSERT -> step ended: median {:.2f} ms   p99 {:.2f} ms\n", end50, end99);
  fmt::print("    bare spawn -> OK of stamp_agent: median {:.2f} ms   p99 {:.2f} ms\n", spawn,
             spawn99);
  h.stop();
  std::string lw = "bare spawn->OK of the agent, median", lw99 = "the same, p99";
  bench::result("b.first_ok.median", "INSERT -> first OK, median (target: within 1 ms of spawn)",
                ok50, "ms", lw, spawn, ok50 / spawn, "<= spawn + 1 ms", ok50 <= spawn + 1 ? 1 : 0);
  bench::result("b.first_ok.p99", "INSERT -> first OK, p99", ok99, "ms", lw99, spawn99,
                ok99 / spawn99, "< 10 ms", ok99 < 10 ? 1 : 0);
  bench::result("b.ended.median", "INSERT -> step ended (jq_endtime), median", end50, "ms", lw,
                spawn, end50 / spawn, "-", -1);
  bench::result("b.ended.p99", "INSERT -> step ended (jq_endtime), p99", end99, "ms", lw99, spawn99,
                end99 / spawn99, "-", -1);
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

// Reads `fd` until a line "OK" (true) or EOF (false); `buf` keeps what follows it.
bool read_ok(int fd, std::string& buf) {
  for (;;) {
    for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      bool ok = buf.compare(0, nl, "OK") == 0;
      buf.erase(0, nl + 1);
      if (ok) return true;
    }
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(r));
  }
}

// The scheduler's exchange with a one-line step's agent, by hand and nothing else: spawn with
// stdin and stdout pipes, its OK, the data line, its OK, end of input, wait. `n` of them,
// `width` at a time (a thread each); returns per second. The scheduler's overhead over bare
// spawn+wait beyond this is its own (the database, the loop, the log).
double protocol_rate(const std::vector<std::string>& args, int n, int width) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::atomic<int> next{0}, failed{0};
  auto slot = [&] {
    while (next.fetch_add(1) < n) {
      int in[2], out[2];
      if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        ++failed;
        return;
      }
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, in[0], 0);
      posix_spawn_file_actions_adddup2(&fa, out[1], 1);
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
      pid_t pid;
      int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      close(in[0]);
      close(out[1]);
      std::string buf;
      bool ok =
          rc == 0 && read_ok(out[0], buf) && write(in[1], "x\n", 2) == 2 && read_ok(out[0], buf);
      close(in[1]);
      char rest[256];
      while (read(out[0], rest, sizeof rest) > 0) {
      }
      close(out[0]);
      int status = 0;
      if (rc == 0) waitpid(pid, &status, 0);
      if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < width; ++i) threads.emplace_back(slot);
  for (auto& t : threads) t.join();
  if (failed > 0) throw std::runtime_error("protocol_rate: an agent failed the exchange");
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

// What one round of (c) measures, or the best and the sums of the rounds.
struct Round {
  double rate = 0, cpu = 0, pg = 0, bare = 0, exchange = 0;  // steps/s, s, s, /s, /s
};

// One round of (c) at `width`: `steps` one-line steps through a new scheduler (a database of
// its own), then as many bare spawn+waits and exchanges by hand, one after the other.
Round throughput_round(int steps, int width, int round) {
  std::string fake = test::build_dir() + "/tests/agents/fake_agent/fake_agent";
  test::SchedulerSettings s = bench::scheduler_settings();
  s.heartbeat_timeout = 600;
  s.hosts[0].max = width;
  s.agents = {test::fake_agent("ok", "--ok")};
  test::SchedulerHarness& h = bench::kept_harness(s);
  h.start();
  bench::wait_running(h);
  test::Session db(h.db().conninfo());
  bench::BackendsCpu pg_cpu(h, db);
  double pg0 = pg_cpu.seconds();
  double cpu0 = bench::cpu_seconds(h.process()->pid());
  db.query(fmt::format(
      "SELECT count(queue_step(queue_job('bench'), 'ok', 'x' || g)) FROM generate_series(1, {}) g",
      steps));
  // Completion is checked every 250 ms (bench_wait.hpp); the rate comes from the database's own
  // clock: from the queueing transaction (job_queued) to the last jq_endtime.
  std::string done;
  auto deadline = Clock::now() + 600s;
  for (;;) {
    done = db.query(
        "SELECT count(*) FILTER (WHERE jq_endtime IS NOT NULL) || '/' || "
        "count(*) FILTER (WHERE jq_endtext = 'Completed') FROM jobqueue");
    if (done.rfind(std::to_string(steps) + "/", 0) == 0 || Clock::now() > deadline) break;
    usleep(250'000);
  }
  if (done != fmt::format("{}/{}", steps, steps))
    throw std::runtime_error("not all steps completed (ended/completed " + done + ")");
  double secs =
      std::stod(db.query("SELECT extract(epoch FROM max(jq_endtime) - min(job_queued)) "
                         "FROM jobqueue JOIN job ON job_pk = jq_job_fk"));
  Round r;
  r.rate = steps / secs;
  r.cpu = bench::cpu_seconds(h.process()->pid()) - cpu0;
  r.pg = pg_cpu.seconds() - pg0;
  h.stop();
  r.bare = spawn_rate({fake, "--ok", "--scheduler_start"}, steps, width);
  r.exchange = protocol_rate({fake, "--ok", "--scheduler_start"}, steps, width);
  fmt::print(
      "(c) round {}: {} one-line steps of fake_agent --ok, host max {}: {:.2f} s = {:.1f} "
      "steps/s (CPU a step: scheduler {:.3f} ms, its database connections {:.3f} ms); bare "
      "spawn+wait {} at a time: {:.1f}/s; the same exchange by hand: {:.1f}/s\n",
      round, steps, width, secs, r.rate, r.cpu * 1000 / steps, r.pg * 1000 / steps, width, r.bare,
      r.exchange);
  return r;
}

// (c) at `width`: three rounds in turn, so that the figure and its limits see the same moments
// of the shared machine; as in (a), each is the best of its three, and the CPU a step is that of
// all three rounds.
void throughput(int steps, int width) {
  constexpr int kRounds = 3;
  Round best, total;
  for (int i = 1; i <= kRounds; ++i) {
    Round r = throughput_round(steps, width, i);
    best.rate = std::max(best.rate, r.rate);
    best.bare = std::max(best.bare, r.bare);
    best.exchange = std::max(best.exchange, r.exchange);
    total.cpu += r.cpu;
    total.pg += r.pg;
  }
  double all = static_cast<double>(steps) * kRounds;
  fmt::print(
      "(c) host max {}, best of {} rounds: {:.1f} steps/s; bare spawn+wait {:.1f}/s; the same "
      "exchange by hand {:.1f}/s\n",
      width, kRounds, best.rate, best.bare, best.exchange);
  bench::at_least(fmt::format("c.steps.max{}", width),
                  fmt::format("one-line steps/s, host max {} (best of {} rounds)", width, kRounds),
                  best.rate, "steps/s",
                  fmt::format("bare spawn+wait, {} at a time, in turn with it (best)", width),
                  best.bare, 0.9);
  bench::at_least(fmt::format("c.exchange.max{}", width),
                  fmt::format("one-line steps/s, host max {}, against the exchange alone", width),
                  best.rate, "steps/s",
                  fmt::format("spawn, OK, line, OK, EOF, wait by hand, {} at a time (best)", width),
                  best.exchange, 0);
  bench::result(fmt::format("c.cpu.max{}", width),
                fmt::format("scheduler CPU per one-line step, host max {}", width),
                total.cpu * 1000 / all, "ms/step", "-", 0, NAN, "-", -1);
  bench::result(
      fmt::format("c.pgcpu.max{}", width),
      fmt::format("PostgreSQL CPU per one-line step (the scheduler's backends), host max {}",
                  width),
      total.pg * 1000 / all, "ms/step", "-", 0, NAN, "-", -1);
}

}  // namespace

int main(int argc, char** argv) {
  for (const char* var : {"JOBLINE_BUILD_DIR", "JOBLINE_SOURCE_DIR", "JOBLINE_TEST_STATE"}) {
    if (!std::getenv(var)) {
      std::cerr << "bench_scheduler: set " << var << " (docs/testing.md)\n";
      return 2;
    }
  }
  int samples = argc > 1 ? std::atoi(argv[1]) : 200;
  int steps = argc > 2 ? std::atoi(argv[2]) : 500;
  try {
    bench::PgFixture pg;
    try {
      latency(samples);
      for (int width : {1, 2, 8}) throughput(steps, width);
    } catch (...) {
      bench::kept_harnesses().clear();  // the schedulers end before their cluster
      throw;
    }
    bench::kept_harnesses().clear();
  } catch (const std::exception& e) {
    std::cerr << "bench_scheduler: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
