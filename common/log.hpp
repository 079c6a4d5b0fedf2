// The scheduler's logger, the one allowed global (the scheduler is single-threaded).
// Lines: "YYYY-MM-DD HH:MM:SS scheduler [pid] :: LEVEL: message", one line per message
// (line breaks and tabs inside it, e.g. PostgreSQL's multi-line errors, become one space),
// written with one write(2) so that processes sharing the file never interleave. FATAL, ERROR and
// WARNING are always written, NOTE at verbose >= 1, DEBUG at verbose >= 2. Per-step files: StepLog.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace sched::log {

enum class Level { kFatal, kError, kWarning, kNote, kDebug };

std::string_view level_name(Level level);  // "FATAL", "ERROR", "WARNING", "NOTE", "DEBUG"

class LogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends the log to "stdout", "stderr" (the default before any open) or a file (created
// 0640, appended to). Throws LogError "cannot open log file '<path>': <reason>"; the
// previous target stays in use then.
void open(const std::string& target);
// HUP / logrotate: reopens the file target under its name. On failure keeps the old file,
// logs an ERROR there and returns false. A no-op (true) for stdout/stderr.
bool reopen();
// The current target as given to open().
const std::string& target();

void set_verbose(int level);
int verbose();
bool enabled(Level level);

// Formats the one line (ending in '\n') of `message` with the given name field ("scheduler"
// or an agent type). Pure; used by write and tests.
std::string format_line(std::chrono::system_clock::time_point when, std::string_view name,
                        pid_t pid, Level level, std::string_view message);
// `message` on one line: each run of blanks that holds a '\n', '\r' or '\t' becomes one space
// (none at the ends); other text is unchanged.
std::string one_line(std::string_view message);

// Writes `message` at `level` to the main log if the level is enabled.
void write(Level level, std::string_view message);

// "JOB[<jq_pk>].<type>[<pid>.<host>]" — the tag of an agent's lines.
std::string job_tag(long long jq_pk, std::string_view type, pid_t pid, std::string_view host);

template <typename... Args>
void fatal(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kFatal, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void note(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kNote)) write(Level::kNote, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

// Whether the step whose log is `path` (its jq_log) has logged nothing: there is no file, in a
// log directory that is there. False when the file exists or cannot be looked at, and when the
// directory is missing too (the log is then likely on the scheduler's machine, not this one).
bool step_logged_nothing(const std::string& path);

// The log file of one step (jobqueue row): <log_dir>/jobs/<jq_pk>.log, created with its
// directories on the first line written. Lines as in the main log (scheduler's pid) with the agent
// type as the name field; agent output as `JOB[<jq_pk>].<type>[<pid>.<host>]: "<text>"`. Agent
// output is always written, the scheduler's own messages at the main log's verbosity: at the
// default (0) a step whose agents print nothing and that ends cleanly has no file at all
// (creating it took 16-50 % of the scheduler's CPU for such a step). If the file cannot be opened,
// lines go to the main log instead (one ERROR says why); nothing is lost.
class StepLog {
 public:
  StepLog(const std::string& log_dir, long long jq_pk, std::string type);
  ~StepLog();
  StepLog(StepLog&& other) noexcept;
  StepLog& operator=(StepLog&& other) noexcept;
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

  // Where the lines go: the value for jobqueue.jq_log (known before the first line; there is no
  // file until one is written).
  const std::string& path() const { return path_; }
  long long jq_pk() const { return jq_pk_; }
  // A line of agent output (stdout text, LOG/ECHO/ERROR... messages), always written, at
  // `level` (NOTE for plain text; ERROR for an agent's ERROR line, and so on).
  void agent_line(pid_t pid, std::string_view host, std::string_view text,
                  Level level = Level::kNote);
  // A scheduler message about this step (e.g. "Started", "Failed: exited with 1"): FATAL, ERROR
  // and WARNING always, NOTE at verbose >= 1 and DEBUG at verbose >= 2, as in the main log.
  void write(Level level, std::string_view message);

 private:
  bool ensure_open();
  void emit(Level level, std::string_view message);

  std::string path_;
  long long jq_pk_ = 0;
  std::string type_;
  int fd_ = -1;
  bool failed_ = false;  // open failed once: lines go to the main log
};

}  // namespace sched::log
