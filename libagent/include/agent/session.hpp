// An agent's session with the scheduler (SPEC §8): option parsing, scheduler vs standalone
// mode, the OK/next() loop, logging, DB:, JQ_SUBS and the heartbeat. One Session per process;
// it owns the only writer of stdout, so no two lines ever interleave. The library never calls
// exit() and never logs on its own; errors are thrown as agent::Error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocol.hpp"

namespace agent {

// The one error type libagent throws. `sqlstate` is set for database errors.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string sqlstate = {})
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// The options the scheduler passes to every agent (SPEC §5.3). Absent ones stay nullopt.
struct SchedulerArgs {
  bool scheduler_start = false;      // --scheduler_start
  std::optional<long> job_id;        // --jobId=N   (job_pk)
  std::optional<long> jq_id;         // --jqId=N    (jq_pk)
  std::optional<long> user_id;       // --userID=N
  std::optional<long> group_id;      // --groupID=N
  std::optional<std::string> config; // --config=DIR  (also -c DIR)
  std::optional<std::string> db;     // --db=CONNINFO (libagent's own, for standalone runs)
};

// Removes the scheduler's options from argv (both `--opt=v` and `--opt v` forms) and returns
// them; argc/argv keep argv[0] and the agent's own arguments in order. Throws agent::Error
// naming the option when a value is missing or not a number.
SchedulerArgs take_scheduler_args(int& argc, char** argv);

enum class Mode {
  Scheduler,   // started with --scheduler_start: speaks the protocol on stdin/stdout
  Standalone,  // run by hand: items from the command line or stdin, no protocol output
};

struct SessionOptions {
  std::string name;  // agent name; default: basename of argv[0]
  std::chrono::milliseconds heartbeat{30'000};
  unsigned window = 1;  // > 1 sends `WINDOW <n>` before the first OK (SPEC §2.5)
};

class Session {
 public:
  // Takes the scheduler's options out of argv. In standalone mode the remaining arguments
  // after argv[0] are the items unless set_items() is called; with none, items are stdin lines.
  Session(int& argc, char** argv, SessionOptions options = {});
  ~Session();  // stops the heartbeat and joins it
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Mode mode() const;
  const SchedulerArgs& args() const;
  const std::string& name() const;

  // Standalone mode: replace the items (e.g. the positional arguments the agent's own option
  // parser found). An empty list means "read items from stdin".
  void set_items(std::vector<std::string> items);

  // The simple loop: acknowledges the previous item (sends OK; the first call sends the
  // initial WINDOW/OK), then returns the next data line; nullopt when there is no more data
  // (stdin EOF) or stdout is gone.
  std::optional<std::string> next();

  // The low-level loop for agents that commit items in groups (SPEC §2.5, §8):
  // ready() sends WINDOW/OK once; read() returns the next line, blocking unless `wait` is
  // false (then nullopt also means "none buffered yet"); ack(n) sends n OKs.
  void ready();
  std::optional<std::string> read(bool wait = true);
  void ack(std::size_t n = 1);
  bool at_eof() const;  // stdin reached EOF (no more data will come)

  // Protocol messages. In standalone mode they go to stderr as "LEVEL: text" (logs) or
  // are dropped (counters); nothing is written to stdout.
  void items_processed(std::uint64_t n);
  void log(protocol::Level level, std::string_view text);
  void fatal(std::string_view text) { log(protocol::Level::Fatal, text); }
  void error(std::string_view text) { log(protocol::Level::Error, text); }
  void warning(std::string_view text) { log(protocol::Level::Warning, text); }
  void info(std::string_view text) { log(protocol::Level::Log, text); }
  void jq_subs(std::string_view key, std::string_view value);

  // Runs SQL through the scheduler (`DB:`) and returns the rows; throws agent::Error with the
  // scheduler's DBERROR message. Only in scheduler mode.
  std::vector<protocol::Row> db(std::string_view sql);

  // True once a write to stdout failed (EPIPE): the scheduler is gone.
  bool hangup() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent
