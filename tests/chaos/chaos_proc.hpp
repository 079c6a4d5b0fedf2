// What the chaos test reads in /proc: the agents of its run (their command line carries
// --tag=<run tag>, and --jqId=<step>), and a process's open descriptors.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

// The chaos test's helpers (tests/chaos/).
namespace chaos {

struct AgentProc {
  pid_t pid = 0;
  long long jq_pk = 0;
};

// Whether `argv` (NUL-separated) holds the whole argument `--tag=<tag>`.
inline bool has_tag(const std::string& argv, const std::string& tag) {
  return (std::string(1, '\0') + argv + std::string(1, '\0'))
             .find(std::string(1, '\0') + "--tag=" + tag + std::string(1, '\0')) !=
         std::string::npos;
}

// The process may exit while it is read (read(2) fails with ESRCH; std::ifstream would
// throw): then it is "" like a zombie's.
inline std::string cmdline_of(pid_t pid) {
  std::string out;
  int fd = ::open(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// SIGKILLs `pid` only if it is still one of the run's agents: the pid could have been reused
// since it was listed. A pidfd pins the process whose argv is checked.
inline bool kill_tagged(pid_t pid, const std::string& tag) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  bool ok = has_tag(cmdline_of(pid), tag) &&
            ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0;
  ::close(fd);
  return ok;
}

// Live processes whose argv holds `--tag=<tag>` (a zombie's cmdline is empty: not counted).
inline std::vector<AgentProc> tagged_agents(const std::string& tag) {
  std::vector<AgentProc> out;
  const std::string mark = "--tag=" + tag;
  std::error_code ec;
  // increment(ec): processes come and go while /proc is listed (operator++ would throw).
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = cmdline_of(static_cast<pid_t>(std::atol(name.c_str())));
    AgentProc p;
    bool ours = false;
    for (std::size_t at = 0; at < cmdline.size();) {
      std::size_t end = cmdline.find('\0', at);
      if (end == std::string::npos) end = cmdline.size();
      std::string arg = cmdline.substr(at, end - at);
      if (arg == mark) ours = true;
      if (arg.rfind("--jqId=", 0) == 0) p.jq_pk = std::atoll(arg.c_str() + 7);
      at = end + 1;
    }
    if (!ours) continue;
    p.pid = static_cast<pid_t>(std::atol(name.c_str()));
    out.push_back(p);
  }
  return out;
}

inline int fd_count(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// The descriptor count once it holds still (3 equal samples 200 ms apart; a control
// connection just closed by the test, say, is gone by then), or the last sample after 10 s.
inline int settled_fd_count(pid_t pid) {
  int last = fd_count(pid), same = 1;
  for (int i = 0; i < 50 && same < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int now = fd_count(pid);
    same = now == last ? same + 1 : 1;
    last = now;
  }
  return last;
}

}  // namespace chaos
