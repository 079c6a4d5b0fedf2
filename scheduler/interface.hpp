// Interface: the scheduler's control interface (SPEC §7) on the main loop — a TCP listener
// and a Unix socket, newline-framed text commands with FOSSology's names. Every valid command
// is answered `received` first; every reply ends with `end` (`CLOSE` for close/stop/die),
// unknown commands included; errors are `ERROR: ...` lines before `end`.
//
// Outsiders fill nothing without bound: input lines are cut at 4 KiB, a connection's unsent
// replies at kMaxPendingOutput (a client that sends commands and never reads is dropped), the
// connections at kMaxConnections, and a connection waiting for a database answer is not read
// from. With `auth_token` set, a TCP client must first send `auth <token>` (the Unix socket
// relies on its permissions: the socket 0660, its directory not writable by others).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/protocol.hpp"
#include "database.hpp"
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

// kill / pause / restart / priority of a step the scheduler does not hold: the reply waits
// for jobqueue to say whether the step exists and is open (finish_step_command).
struct StepLookup {
  long long jq_pk = -1;
  std::vector<std::string> words;  // the command, split; words[0] lower case
};

// What jobqueue says of a step (kLookupStep's row, or none).
struct StepFound {
  bool exists = false;
  bool ended = false;
  std::string endtext;
};

// The reply to one command line, as lines without '\n'; `close` asks to end the connection.
// With `lookup` set the reply is not complete: `lines` is its beginning, and
// finish_step_command gives the rest once the step has been looked up.
struct Reply {
  std::vector<std::string> lines;
  bool close = false;
  std::optional<StepLookup> lookup{};
};
Reply run_command(Scheduler& scheduler, const InterfaceActions& actions, std::string_view line);
// The rest of a looked-up command's reply (through `end`): an error when the step does not
// exist, or has ended (kill, pause, restart) or is not paused (restart); else the command.
std::vector<std::string> finish_step_command(Scheduler& scheduler, const StepLookup& lookup,
                                             const StepFound& row);
// $1 jq_pk: whether the step exists, has ended, and its jq_endtext.
inline constexpr const char* kLookupStep =
    "SELECT jq_endtime IS NOT NULL, coalesce(jq_endtext, '') FROM jobqueue WHERE jq_pk = $1";

// Whether `given` equals `token`, in time independent of where they differ and of their
// lengths (both are hashed first).
bool token_matches(std::string_view given, std::string_view token);

// listen() refusing the configuration (the socket's directory), not failing to bind: a
// configuration error (exit 3) rather than "already running" (exit 5).
class ListenConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Interface {
 public:
  static constexpr std::size_t kMaxPendingOutput = 1 << 20;  // unsent reply bytes
  static constexpr std::size_t kMaxConnections = 128;

  Interface(Scheduler& scheduler, Database& db, InterfaceActions actions);
  ~Interface();
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  // Starts listening on TCP <listen>:<port> (when port > 0) and on `socket` (when not empty).
  // The socket's directory is created 0750 when missing and refused when others may write to
  // it; the socket is 0660. Throws std::runtime_error naming the address and the reason.
  void listen(const std::string& address, int port, const std::string& socket_path);
  // Gives the socket file (and its directory, when listen() created it) to uid:gid, for a
  // scheduler that drops root (main). Throws std::runtime_error naming the path.
  void chown_socket(uid_t uid, gid_t gid) const;

 private:
  struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    std::string peer;  // for log lines: "127.0.0.1:5000" or "unix socket (pid 12 uid 0)"
    bool tcp = false;
    bool authenticated = false;
    agent::protocol::LineSplitter lines{4096};
    std::deque<agent::protocol::LineSplitter::Line> queued;  // read while a lookup waited
    std::string out;
    bool closing = false;
    bool waiting = false;  // a reply waits for the database: nothing more is read
    bool want_out = false;
    Source watch;
  };
  void accept_from(int listen_fd, bool tcp);
  bool on_connection(Connection* c, GIOCondition condition);
  // Runs the queued lines until one waits for the database; false when `c` was dropped.
  bool run_queued(Connection* c);
  void answer(Connection* c, const agent::protocol::LineSplitter::Line& line);
  bool authenticate(Connection* c, const std::string& line);
  void start_lookup(Connection* c, StepLookup lookup);
  // Appends reply lines; false (and `c` dropped) when its unsent output passes the bound.
  bool emit(Connection* c, const std::vector<std::string>& lines);
  // Sends what it can; false when `c` was dropped.
  bool flush(Connection* c);
  void watch(Connection* c);
  void drop(Connection* c);
  Connection* find(std::uint64_t id);

  Scheduler& scheduler_;
  Database& db_;
  InterfaceActions actions_;
  std::vector<int> listen_fds_;
  std::vector<Source> listen_watches_;
  std::string socket_path_;
  bool made_socket_dir_ = false;
  std::list<Connection> connections_;
  std::uint64_t next_id_ = 1;
  bool full_logged_ = false;
  // Lookup callbacks hold a weak_ptr: the Interface may be gone when the database answers.
  std::shared_ptr<Interface*> self_ = std::make_shared<Interface*>(this);
};

}  // namespace sched
