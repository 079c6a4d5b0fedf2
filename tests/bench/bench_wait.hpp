// What the benchmarks share besides their RESULT lines: the CPU of a process and of the
// scheduler's database connections, harnesses kept to the end, the cluster of a benchmark run
// alone, and waiting for a step to end
// without disturbing what is measured. A benchmark queues, polls and reads its figures through
// one test::Session a case: a new connection a query (TempDatabase::query) costs ~25-45 ms of
// PostgreSQL's CPU on these VMs, most of it in the backend's exit after the query has answered,
// while the step measured runs. A poll through the session costs it ~35 us; those for a step's end
// are 250 ms apart (b's, whose step ends within milliseconds, 10 ms).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "scheduler_harness.hpp"
#include "support.hpp"

namespace bench {

// A process's own CPU seconds so far (utime + stime of /proc/<pid>/stat; children not
// included).
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The CPU seconds so far of the scheduler's own database connections (its backends, read from
// /proc: the cluster is on this machine), not the benchmark's `session`: those open when it is
// made.
class BackendsCpu {
 public:
  BackendsCpu(test::SchedulerHarness& h, test::Session& session)
      : pids_(session.rows("SELECT pid FROM pg_stat_activity WHERE datname = '" + h.db().name() +
                           "' AND pid <> pg_backend_pid()")) {}
  double seconds() const {
    double sum = 0;
    for (const auto& pid : pids_) sum += cpu_seconds(std::stoi(pid));
    return sum;
  }

 private:
  std::vector<std::string> pids_;
};

// A harness that lives until the benchmark exits, and with it its directories (each step's log
// file). Removing thousands of files between cases would be measured in the next case: ext4
// without a journal (these VMs) passes over inodes freed in the last seconds when it allocates
// one, so a step's log file then cost ~0.7 ms to create instead of ~30 us (measured with
// Python's os.open, 3,000 files, right after removing 3,000 and 6 s later).
// kept_harnesses().clear() ends them (before the cluster stops).
inline std::vector<std::unique_ptr<test::SchedulerHarness>>& kept_harnesses() {
  static std::vector<std::unique_ptr<test::SchedulerHarness>> kept;
  return kept;
}
inline test::SchedulerHarness& kept_harness(test::SchedulerSettings settings) {
  return *kept_harnesses().emplace_back(
      std::make_unique<test::SchedulerHarness>(std::move(settings)));
}

// The private cluster of JOBLINE_TEST_STATE/pg for a benchmark run alone: started when it is
// not up, and stopped again by the one that started it (./run bench starts and stops its own).
// End kept_harnesses() before it goes.
class PgFixture {
 public:
  PgFixture() : dir_(std::string(std::getenv("JOBLINE_TEST_STATE")) + "/pg") {
    if (std::filesystem::exists(dir_ + "/conninfo")) return;
    auto r = test::run({script(), "start", dir_});
    if (r.exit_code() != 0) throw std::runtime_error("cannot start the pg fixture:\n" + r.output);
    started_ = true;
  }
  ~PgFixture() {
    if (!started_) return;
    try {
      auto r = test::run({script(), "stop", dir_});
      if (r.exit_code() != 0)
        std::cerr << "cannot stop the pg fixture " << dir_ << ":\n" << r.output;
    } catch (const std::exception& e) {
      std::cerr << "cannot stop the pg fixture " << dir_ << ": " << e.what() << "\n";
    }
  }
  PgFixture(const PgFixture&) = delete;
  PgFixture& operator=(const PgFixture&) = delete;

 private:
  static std::string script() { return test::source_dir() + "/tests/fixtures/pg_cluster.sh"; }
  std::string dir_;
  bool started_ = false;
};

// The settings every benchmark starts from: the scheduler runs as packaged, without -v (0), not
// at the tests' level 2, which logs three main-log lines and four step-log lines a step.
inline test::SchedulerSettings scheduler_settings() {
  test::SchedulerSettings s;
  s.verbose = std::nullopt;
  return s;
}

// Waits until the scheduler's loop runs: it answers `status` on its control socket (the socket
// is bound before the loop starts; at verbose 0 the main log says nothing at start).
inline void wait_running(test::SchedulerHarness& h) {
  std::vector<std::string> reply = h.control("status", std::chrono::seconds(30));
  if (reply.empty() || reply.back() != "end")
    throw std::runtime_error("the scheduler did not start:\n" + h.log());
}

// Queues `step` (a new job) through `session`; returns its jq_pk.
inline long long queue(test::Session& session, const test::SchedulerHarness::Step& step) {
  return std::stoll(session.query(test::SchedulerHarness::queue_sql(step)));
}

// Polls through `session` until step `jq_pk` has ended; false after `timeout`.
inline bool wait_ended(test::Session& session, long long jq_pk, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string ended =
      "SELECT jq_endtime IS NOT NULL FROM jobqueue WHERE jq_pk = " + std::to_string(jq_pk);
  while (session.query(ended) != "t") {
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(250'000);
  }
  return true;
}

// Seconds from the step's start to its end, by the database's clock.
inline double step_seconds(test::Session& session, long long jq_pk) {
  return std::stod(session.query(
      "SELECT extract(epoch FROM jq_endtime - jq_starttime) FROM jobqueue WHERE jq_pk = " +
      std::to_string(jq_pk)));
}

}  // namespace bench
