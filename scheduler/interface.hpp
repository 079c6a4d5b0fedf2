// Interface: the scheduler's control interface (SPEC §7) on the main loop — a TCP listener
// and a Unix socket, newline-framed text commands with FOSSology's names. Every valid command
// is answered `received` first; every reply ends with `end` (`CLOSE` for close/stop/die),
// unknown commands included; errors are `ERROR: ...` lines before `end`. Connections are
// non-blocking fds with bounded input.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "agent/protocol.hpp"
#include "event_loop.hpp"
#include "scheduler.hpp"

namespace sched {

// What commands outside the Scheduler's reach do (wired by main).
struct InterfaceActions {
  std::function<void()> reload;  // like SIGHUP
  std::function<void()> stop;    // like SIGTERM
  std::function<void()> die;     // like SIGQUIT
  bool daemon = false;
};

// The reply to one command line, as lines without '\n'; `close` asks to end the connection.
struct Reply {
  std::vector<std::string> lines;
  bool close = false;
};
Reply run_command(Scheduler& scheduler, const InterfaceActions& actions, std::string_view line);

class Interface {
 public:
  Interface(Scheduler& scheduler, InterfaceActions actions);
  ~Interface();
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  // Starts listening on TCP <listen>:<port> (when port > 0) and on `socket` (when not empty).
  // Throws std::runtime_error naming the address and the reason when it cannot.
  void listen(const std::string& address, int port, const std::string& socket_path);

 private:
  struct Connection {
    int fd = -1;
    agent::protocol::LineSplitter lines{4096};
    std::string out;
    bool closing = false;
    bool want_out = false;
    Source watch;
  };
  void accept_from(int listen_fd);
  bool on_connection(Connection* c, GIOCondition condition);
  void flush(Connection* c);
  void watch(Connection* c, bool want_out);
  void drop(Connection* c);

  Scheduler& scheduler_;
  InterfaceActions actions_;
  std::vector<int> listen_fds_;
  std::vector<Source> listen_watches_;
  std::string socket_path_;
  std::list<Connection> connections_;
};

}  // namespace sched
