// Small helpers shared by the scheduler_*_test.cpp files: short timeouts, process checks,
// record files (fake_agent --record) and pids from step logs.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler_harness.hpp"
#include "support.hpp"

namespace test {

// Timeouts short enough for fast tests (SPEC §3 defaults are minutes).
inline SchedulerSettings fast_settings() {
  SchedulerSettings s;
  s.startup_timeout = 1.5;
  s.heartbeat_timeout = 1.5;
  s.kill_grace = 0.5;
  s.poll_interval = 30;
  s.max_failures = 3;
  return s;
}

// A jq_pk as text, for control commands and log matching.
inline std::string pk(long long v) {
  return std::to_string(v);
}

// A step whose fake_agent finishes its line only once `file` exists (--wait-file): for a
// scenario that needs the step still running when something happens; let_go(file) ends the
// wait (docs/testing.md).
inline long long queue_held(SchedulerHarness& h, const std::string& type, const std::string& args,
                            const std::string& file) {
  SchedulerHarness::Step step{type, args};
  step.cmd_args = "--wait-file=" + file;
  return h.queue(step);
}
inline void let_go(const std::string& file) {
  std::ofstream(file).flush();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline int count_of(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

// Whether a process exists and is not a zombie (a zombie has been killed already; only its
// parent's wait() is missing, which PID 1 of a container may never do).
// /proc/<pid>/stat, or "" when the process is gone (also while it is read: read(2) then fails
// with ESRCH, and std::ifstream would throw).
inline std::string proc_stat(pid_t pid) {
  std::string out;
  int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[1024];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

inline bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::string text = proc_stat(pid);
  if (text.empty()) return false;
  auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

// The state letter of /proc/<pid>/stat ('R', 'S', 'T' stopped, 'Z'...), or '?' when gone.
inline char process_state(pid_t pid) {
  std::string text = proc_stat(pid);
  auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return '?';
  return text[paren + 2];
}

// Lines of a file ("" lines dropped).
inline std::vector<std::string> file_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// A --record file's entries "<pid> <data line>" as {pid, line}.
struct Record {
  pid_t pid;
  std::string line;
};
inline std::vector<Record> records(const std::string& path) {
  std::vector<Record> out;
  for (const auto& l : file_lines(path)) {
    auto sp = l.find(' ');
    out.push_back({static_cast<pid_t>(std::stol(l.substr(0, sp))),
                   sp == std::string::npos ? "" : l.substr(sp + 1)});
  }
  return out;
}

// Every number captured by `pattern`'s first group in `text`.
inline std::vector<long> numbers(const std::string& text, const std::string& pattern) {
  std::vector<long> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back(std::stol((*it)[1].str()));
  return out;
}

// The pids of the agents a step log says were started ("agent started: JOB[n].t[pid.host]").
inline std::vector<long> started_pids(const std::string& step_log) {
  return numbers(step_log, R"(agent started: JOB\[\d+\]\.[^\[]+\[(\d+)\.)");
}

// The pid of a step's running agent from jq_schedinfo ("<host>.<pid>"), 0 if not running.
inline pid_t agent_pid(SchedulerHarness& h, long long jq_pk) {
  std::string info = h.column(jq_pk, "jq_schedinfo");
  auto dot = info.rfind('.');
  if (dot == std::string::npos) return 0;
  return static_cast<pid_t>(std::stol(info.substr(dot + 1)));
}

// The pids of a step's agents that have said OK (`status N`: status:AGENT_RUNNING). An agent
// that has not said it yet still writes to its stdout: if the scheduler dies first, that write
// kills it (SIGPIPE), so tests that kill the scheduler wait for this.
inline std::vector<pid_t> running_agents(SchedulerHarness& h, long long jq_pk) {
  std::vector<pid_t> out;
  for (const auto& line : h.control("status " + std::to_string(jq_pk)))
    if (line.rfind("agent:", 0) == 0 && line.find(" status:AGENT_RUNNING ") != std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(line.substr(6))));
  return out;
}

// A running scheduler with one step whose agent hangs after its OK (not killed for silence
// within a test): the start of the control, status and QUIT tests.
struct HangingStep {
  SchedulerHarness h;
  long long jq = 0;
  pid_t pid = 0;

  HangingStep() : h(settings()) {
    h.start();
    jq = h.queue("hang", "x");
    if (h.wait_started(jq, 30s)) pid = agent_pid(h, jq);
  }
  static SchedulerSettings settings() {
    auto s = fast_settings();
    s.heartbeat_timeout = 30;
    s.agents = {fake_agent("hang", "--hang")};
    return s;
  }
};

// Waits until the scheduler has started serving (its log says so).
inline bool wait_serving(SchedulerHarness& h, std::chrono::milliseconds timeout = 30s) {
  return eventually([&] { return contains(h.log(), "scheduler started"); }, timeout);
}

// The last line of a control reply, e.g. "end".
inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace test
