// AgentProcess: the one owner of an agent's child process. It is spawned with posix_spawn in a
// process group of its own, with close-on-exec pipes for stdin, stdout and stderr whose parent
// ends are non-blocking fds watched by the main loop; output is split into bounded lines and
// the child is reaped by exactly one child watch. Invariant: after on_exit has been called the
// process group has been sent SIGKILL (nothing an agent leaves behind survives) and no other
// callback follows.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocol.hpp"
#include "event_loop.hpp"

namespace sched {

// Environment variables agents never inherit: libpq's password and password file. Agents
// reach the database through `DB:` lines (the scheduler's connection); one that connects
// itself (a FOSSology agent) reads its own Db.conf under --config.
inline constexpr std::string_view kSecretVariables[] = {"PGPASSWORD", "PGPASSFILE"};

// How a child ended: an exit code or a signal.
struct ExitStatus {
  int code = -1;   // exit code, or -1 when killed by a signal
  int signal = 0;  // the signal that killed it, or 0
  static ExitStatus from_wait_status(int status);
  bool clean() const { return signal == 0 && code == 0; }
  std::string describe() const;  // "exit code 3" / "signal 9 (Killed)"
};

// When AgentProcess reads an agent's stdout again straight after writing it the answer to its
// lines (on_readable): a re-read that finds nothing pauses re-reading for 1, 2, 4 ... up to
// kMaxPause stdout events, longer with each miss in a row; one that finds the agent's next
// line starts the pauses over. An agent that never answers at once (on the other CPU) costs one
// wasted read(2) per kMaxPause lines; one on our CPU that misses now and then (a timer tick, a
// wake-up that did not preempt us) loses a loop pass or two, not kMaxPause. Pure; tested alone.
class RereadPause {
 public:
  static constexpr int kMaxPause = 64;
  // Lines whose answer the agent awaits were just handled: read its stdout again now?
  bool now() {
    if (pause_ == 0) return true;
    --pause_;
    return false;
  }
  void found() { next_ = 1; }  // a re-read found a line
  void missed() {              // a re-read found nothing
    pause_ = next_;
    next_ = std::min(kMaxPause, next_ * 2);
  }

 private:
  int pause_ = 0;  // stdout events left before re-reading is tried again
  int next_ = 1;   // the pause after the next miss
};

class SpawnError : public std::runtime_error {
 public:
  SpawnError(const std::string& what, int err) : std::runtime_error(what), errno_(err) {}
  int error_number() const { return errno_; }

 private:
  int errno_;
};

class AgentProcess {
 public:
  struct Callbacks {
    std::function<void(std::string_view line, bool cut)> on_stdout;
    std::function<void(std::string_view line, bool cut)> on_stderr;
    std::function<void(ExitStatus)> on_exit;  // may destroy the AgentProcess
  };

  // Starts argv with `cwd` as working directory. argv[0] is a path, or a name looked up in
  // PATH when it has no '/'. The child gets fds 0, 1 and 2 only, and the scheduler's
  // environment without kSecretVariables. Throws SpawnError (with errno) when it cannot be
  // executed.
  static std::unique_ptr<AgentProcess> spawn(const std::vector<std::string>& argv,
                                             const std::string& cwd, Callbacks callbacks);
  ~AgentProcess();  // SIGKILLs the group if the child still runs
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return !exited_; }

  // Queues bytes for the child's stdin; written as the pipe accepts them. Dropped once the
  // child has closed its end (its death follows and is reported by on_exit).
  void send(std::string_view bytes);
  // What was just sent is all the child has to answer (it had nothing else to do): when that
  // was sent while handling its stdout, stdout is read again at once (on_readable).
  void await_answer() { answer_awaited_ = true; }
  // While held, send() only queues: what is sent meanwhile goes in one write(2) when the last
  // Hold ends, and wakes the child once, not once a line. Holds nest.
  class Hold {
   public:
    explicit Hold(AgentProcess& p) : p_(p) { ++p_.held_; }
    ~Hold() {
      if (--p_.held_ == 0) p_.flush_if_idle();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    AgentProcess& p_;
  };
  // Closes stdin once the queued bytes are written (end of data for seed agents).
  void close_stdin();
  bool stdin_closed() const { return close_requested_; }

  void signal_group(int sig);
  // SIGTERM to the group now and SIGKILL after `grace` unless it has exited. Idempotent.
  void terminate(std::chrono::milliseconds grace);
  void kill_now() { signal_group(SIGKILL); }

 private:
  AgentProcess() = default;
  void start_watches();
  bool on_readable(int& fd, agent::protocol::LineSplitter& splitter, bool is_stdout);
  void drain(int& fd, agent::protocol::LineSplitter& splitter, bool is_stdout);
  bool flush_stdin();
  void flush_if_idle();  // flush_stdin() unless held or waiting for the pipe (G_IO_OUT watch)
  void on_child_exit(int status);

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  bool exited_ = false;
  bool close_requested_ = false;
  bool terminating_ = false;
  std::string outbuf_;
  bool answer_awaited_ = false;  // await_answer() since stdout was last read
  RereadPause reread_;
  int held_ = 0;  // Holds alive
  agent::protocol::LineSplitter out_lines_, err_lines_;
  Callbacks cb_;
  Source out_watch_, err_watch_, in_watch_, child_watch_, kill_timer_;
};

}  // namespace sched
