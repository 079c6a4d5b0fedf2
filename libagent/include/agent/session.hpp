// An agent's session with the scheduler (SPEC §8): option parsing, scheduler vs standalone
// mode, the OK/next() loop, logging, DB:, JQ_SUBS and the heartbeat. One Session per process;
// it owns the only writer of stdout, so no two lines ever interleave. The library never calls
// exit() and never logs on its own; errors are thrown as agent::Error. docs/libagent.md has the
// whole story (modes, the loop, the heartbeat, hangup, DB:).
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
  bool scheduler_start = false;       // --scheduler_start
  std::optional<long> job_id;         // --jobId=N   (job_pk)
  std::optional<long> jq_id;          // --jqId=N    (jq_pk)
  std::optional<long> user_id;        // --userID=N
  std::optional<long> group_id;       // --groupID=N
  std::optional<std::string> config;  // --config=DIR  (also -c DIR)
  std::optional<std::string> db;      // --db=CONNINFO (libagent's own, for standalone runs)
};

// Removes the scheduler's options from argv (both `--opt=v` and `--opt v` forms) and returns
// them; argc/argv keep argv[0] and the agent's own arguments in order (argv[argc] = nullptr).
// Only whole option names match (`--jobIdx` stays); a `--` ends the scheduler's options and is
// left in place with everything after it. Repeated options: the last wins. Throws agent::Error
// naming the option when a value is missing or not a number. An agent's own options must not
// reuse these names (`--db`, `--config`, `-c` included).
SchedulerArgs take_scheduler_args(int& argc, char** argv);

// The agent's own arguments, argv[1..] without the scheduler's options, leaving argv as it is:
// for an agent that reads its options before the Session is made (the Session needs the
// window), e.g. with Boost.Program_options' command_line_parser(std::vector<std::string>).
// Throws as take_scheduler_args does.
std::vector<std::string> own_args(int argc, char** argv);

enum class Mode {
  Scheduler,   // started with --scheduler_start: speaks the protocol on stdin/stdout
  Standalone,  // run by hand: items from the command line or stdin, no protocol output
};

struct SessionOptions {
  std::string name;  // agent name; default: basename of argv[0]
  // Period of `Heartbeat` in scheduler mode; zero or negative: no heartbeat thread.
  std::chrono::milliseconds heartbeat{30'000};
  unsigned window = 1;  // > 1 sends `WINDOW <n>` before the first OK (SPEC §2.5); 1..1024
};

class Session {
 public:
  // Takes the scheduler's options out of argv. In standalone mode the remaining arguments
  // after argv[0] are the items unless set_items() is called; with none, items are stdin lines.
  // In scheduler mode it also sets SIGPIPE to ignored (if it had the default disposition), so
  // a vanished scheduler shows as EPIPE, and starts the heartbeat thread (first beat one
  // interval after construction). Throws agent::Error for bad scheduler options or a window
  // outside 1..1024. In scheduler mode stdout belongs to the Session: do not write to it.
  Session(int& argc, char** argv, SessionOptions options = {});
  ~Session();  // sends the OKs next() still holds (below), stops the heartbeat and joins it
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
  // (stdin EOF) or stdout is gone. Blank lines are skipped. A line longer than
  // protocol::max_line_bytes is skipped with an ERROR message and acknowledged at once (the
  // agent never sees it). With a window of 4 or more, while the next line is already here, the
  // OK is held back, up to half the window, and goes out with later ones in one write: before
  // any other message, before next() waits for input, at the next heartbeat and when the
  // Session ends. In standalone mode: the next item, with no protocol output.
  std::optional<std::string> next();

  // The low-level loop for agents that commit items in groups (SPEC §2.5, §8):
  // ready() sends WINDOW/OK once; read() returns the next line, blocking unless `wait` is
  // false (then nullopt also means "none buffered yet"; it polls stdin with a zero timeout
  // after looking at what is already buffered); ack(n) sends n OKs (throws agent::Error when
  // called before ready()). All three do nothing on stdout in standalone mode. Use either
  // next() or these, not both.
  void ready();
  std::optional<std::string> read(bool wait = true);
  void ack(std::size_t n = 1);  // the n OKs go out in one write
  bool at_eof() const;          // stdin reached EOF (no more data will come)

  // The WINDOW asked of the scheduler (SessionOptions::window unless changed). set_window()
  // changes it before ready() / the first next() (e.g. ItemLoop widens it to fill its groups);
  // throws agent::Error outside 1..1024 or once the window has been sent.
  unsigned window() const;
  void set_window(unsigned n);

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
  // scheduler's DBERROR message. Only in scheduler mode (else throws). Blocks until the reply
  // (the heartbeat goes on). Data lines that arrive before DBSTART while the agent has asked
  // for them (WINDOW > 1, or after ack()) are kept for read(); any other line there, a row
  // that does not parse or stdin EOF throws agent::Error (a bad row only after reading the
  // reply to its DBEOF, so the stream stays in step).
  std::vector<protocol::Row> db(std::string_view sql);

  // True once a write to stdout failed (EPIPE): the scheduler is gone. From then on every
  // message is dropped and next()/read() return nullopt. When the heartbeat thread is the one
  // that finds out, it also sends the process SIGTERM if SIGTERM still has its default
  // disposition, so an agent busy in its own code ends promptly (as the scheduler's kill
  // would have ended it); an agent with its own SIGTERM handler gets no signal and is
  // expected to look at hangup() or next().
  bool hangup() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent
