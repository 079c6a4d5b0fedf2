// The agent's own start-up time, without the scheduler: what bench_scheduler (b) and load_bench
// (e) set the INSERT -> first OK latency against, measured in the same run.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace bench {

// Milliseconds from posix_spawn of stamp_agent (tests/bench/stamp_agent.cpp) until its "OK" is
// read from its stdout pipe; the agent writes its stamp file in `dir` (as --jqId=spawn).
inline double spawn_to_ok_ms(const std::string& agent, const std::string& dir) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  std::string jq = "--jqId=spawn";
  std::vector<char*> argv{const_cast<char*>(agent.c_str()), const_cast<char*>(dir.c_str()),
                          const_cast<char*>("--scheduler_start"), jq.data(), nullptr};
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("posix_spawn failed");
  close(out[1]);
  char buf[8];
  ssize_t r = read(out[0], buf, sizeof buf);
  auto t1 = std::chrono::steady_clock::now();
  close(out[0]);
  posix_spawn_file_actions_destroy(&fa);
  int status;
  waitpid(pid, &status, 0);
  if (r < 3) throw std::runtime_error("stamp_agent said no OK");
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace bench
