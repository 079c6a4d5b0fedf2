// The logger (log.hpp): one process-wide target fd, written whole messages at a time.
// State lives in one function-local static; the scheduler is single-threaded.
#include "log.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace sched::log {
namespace {

struct State {
  int fd = STDERR_FILENO;
  std::string target = "stderr";
  int verbose = 0;
};

State& state() {
  static State s;
  return s;
}

bool owned(const State& s) {
  return s.fd != STDOUT_FILENO && s.fd != STDERR_FILENO;
}

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// Writes all of `bytes` with as few write(2) calls as the kernel allows (one, normally).
void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report it
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kFatal:
      return "FATAL";
    case Level::kError:
      return "ERROR";
    case Level::kWarning:
      return "WARNING";
    case Level::kNote:
      return "NOTE";
    case Level::kDebug:
      return "DEBUG";
  }
  return "?";
}

void open(const std::string& target) {
  State& s = state();
  int fd = STDERR_FILENO;
  if (target == "stdout") {
    fd = STDOUT_FILENO;
  } else if (target != "stderr") {
    fd = open_append(target);
    if (fd < 0) {
      throw LogError(fmt::format("cannot open log file '{}': {}", target, std::strerror(errno)));
    }
  }
  if (owned(s)) ::close(s.fd);
  s.fd = fd;
  s.target = target;
}

bool reopen() {
  State& s = state();
  if (!owned(s)) return true;
  int fd = open_append(s.target);
  if (fd < 0) {
    error("cannot reopen log file '{}': {}; still writing to the old file", s.target,
          std::strerror(errno));
    return false;
  }
  ::close(s.fd);
  s.fd = fd;
  return true;
}

const std::string& target() {
  return state().target;
}

void set_verbose(int level) {
  state().verbose = level;
}

int verbose() {
  return state().verbose;
}

bool enabled(Level level) {
  switch (level) {
    case Level::kFatal:
    case Level::kError:
    case Level::kWarning:
      return true;
    case Level::kNote:
      return state().verbose >= 1;
    case Level::kDebug:
      return state().verbose >= 2;
  }
  return true;
}

std::string format_line(std::chrono::system_clock::time_point when, std::string_view name,
                        pid_t pid, Level level, std::string_view message) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = fmt::format("{} {} [{}] :: {}: ", stamp, name, pid, level_name(level));
  out += one_line(message);
  out += '\n';
  return out;
}

std::string one_line(std::string_view message) {
  auto folded = [](char c) { return c == '\n' || c == '\r' || c == '\t'; };
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size();) {
    if (message[i] != ' ' && !folded(message[i])) {
      out += message[i++];
      continue;
    }
    // A run of blanks: kept as it is unless it holds a line break or tab, then one space
    // (nothing at either end of the message).
    std::size_t end = i;
    bool fold = false;
    for (; end < message.size() && (message[end] == ' ' || folded(message[end])); ++end)
      fold = fold || folded(message[end]);
    if (!fold)
      out.append(message.substr(i, end - i));
    else if (i > 0 && end < message.size())
      out += ' ';
    i = end;
  }
  return out;
}

namespace {
// The process's pid for each line, without a getpid() system call per line (glibc 2.36 does
// not cache it); made again in a forked child (--daemon).
pid_t& cached_pid() {
  static pid_t pid = [] {
    pthread_atfork(nullptr, nullptr, [] { cached_pid() = ::getpid(); });
    return ::getpid();
  }();
  return pid;
}
}  // namespace

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  write_all(state().fd, format_line(std::chrono::system_clock::now(), "scheduler", cached_pid(),
                                    level, message));
}

std::string job_tag(long long jq_pk, std::string_view type, pid_t pid, std::string_view host) {
  return fmt::format("JOB[{}].{}[{}.{}]", jq_pk, type, pid, host);
}

// ---- StepLog --------------------------------------------------------------------------------

bool step_logged_nothing(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) return false;
  return std::filesystem::is_directory(std::filesystem::path(path).parent_path(), ec);
}

StepLog::StepLog(const std::string& log_dir, long long jq_pk, std::string type)
    : path_(fmt::format("{}/jobs/{}.log", log_dir, jq_pk)), jq_pk_(jq_pk), type_(std::move(type)) {}

StepLog::~StepLog() {
  if (fd_ >= 0) ::close(fd_);
}

StepLog::StepLog(StepLog&& other) noexcept
    : path_(std::move(other.path_)),
      jq_pk_(other.jq_pk_),
      type_(std::move(other.type_)),
      fd_(std::exchange(other.fd_, -1)),
      failed_(other.failed_) {}

StepLog& StepLog::operator=(StepLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    jq_pk_ = other.jq_pk_;
    type_ = std::move(other.type_);
    fd_ = std::exchange(other.fd_, -1);
    failed_ = other.failed_;
  }
  return *this;
}

bool StepLog::ensure_open() {
  if (fd_ >= 0) return true;
  if (failed_) return false;
  // The directory is made only when it is missing (the first step, or removed meanwhile).
  std::error_code ec;
  fd_ = open_append(path_);
  if (fd_ < 0 && errno == ENOENT) {
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd_ = open_append(path_);
  }
  if (fd_ < 0) {
    failed_ = true;
    error("cannot open the log of step {} '{}': {}; its lines go to this log", jq_pk_, path_,
          ec ? ec.message() : std::strerror(errno));
    return false;
  }
  return true;
}

void StepLog::emit(Level level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  int fd = ensure_open() ? fd_ : state().fd;
  write_all(fd, format_line(now, type_, cached_pid(), level, message));
}

void StepLog::agent_line(pid_t pid, std::string_view host, std::string_view text, Level level) {
  emit(level, fmt::format("{}: \"{}\"", job_tag(jq_pk_, type_, pid, host), text));
}

void StepLog::write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  emit(level, message);
}

}  // namespace sched::log
