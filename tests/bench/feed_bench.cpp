// feed_bench: throughput and memory of SQL-fed steps (docs/feeding.md), built but not run by
// the test suite. A real scheduler (SchedulerHarness) feeds `SELECT id, k FROM generate_series`
// rows to trivial agents (fake_agent --window=256: OK per line, no work):
//   rows/s  on one host (2 agents) and on three hosts h1..h3 with [repository] ranges
//           (2 agents each); local hosts, and ssh hosts when the sshd fixture is up;
//   RSS     the scheduler's peak RSS (VmHWM) after feeding 100,000 and 1,000,000 rows.
// Usage: feed_bench [rows-for-throughput (default 200000)]. Needs JOBLINE_BUILD_DIR and
// JOBLINE_TEST_STATE (see docs/testing.md) and the pg fixture; starts it when it is not up.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>

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

test::SchedulerSettings settings(int hosts, bool ssh) {
  test::SchedulerSettings s;
  s.heartbeat_timeout = 600;
  s.startup_timeout = 30;
  s.hosts.clear();
  const char* ranges[] = {"00 54", "55 aa", "ab ff"};
  for (int i = 0; i < hosts; ++i) {
    std::string name = fmt::format("h{}", i + 1);
    s.hosts.push_back({name, ssh ? "127.0.0.1" : "localhost", "", 2});
    if (hosts > 1) s.repository.push_back(name + " = " + ranges[i]);
  }
  if (ssh) s.ssh_command = test::ssh_command();
  s.agents = {test::fake_agent("trivial", "--window=256")};
  return s;
}

Outcome run(long long rows, int hosts, bool ssh) {
  test::SchedulerHarness h(settings(hosts, ssh));
  h.start();
  test::SchedulerHarness::Step step;
  step.type = "trivial";
  step.args = fmt::format("SELECT i AS id, md5(i::text) AS k FROM generate_series(1, {}) i", rows);
  step.runonpfile = "k";
  auto t0 = Clock::now();
  long long pk = h.queue(step);
  Outcome out;
  if (!h.wait_ended(pk, 3600s)) throw std::runtime_error("step did not end:\n" + h.log());
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  out.rows = h.items(pk);
  out.endtext = h.endtext(pk);
  out.hwm_kib = vm_hwm_kib(h.process()->pid());
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

void ensure_pg() {
  std::string state = std::string(std::getenv("JOBLINE_TEST_STATE")) + "/pg";
  if (std::filesystem::exists(state + "/conninfo")) return;
  auto r = test::run({test::source_dir() + "/tests/fixtures/pg_cluster.sh", "start", state});
  if (r.exit_code() != 0) throw std::runtime_error("cannot start the pg fixture: " + r.output);
}

}  // namespace

int main(int argc, char** argv) try {
  if (!std::getenv("JOBLINE_TEST_STATE") || !std::getenv("JOBLINE_BUILD_DIR")) {
    std::cerr << "feed_bench: set JOBLINE_BUILD_DIR and JOBLINE_TEST_STATE (docs/testing.md)\n";
    return 2;
  }
  ensure_pg();
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
