// Spawning and driving one agent child. Everything between fork and exec happens inside
// posix_spawn (glibc uses CLONE_VFORK, so exec errors come back as its return value).
#include "agent_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iterator>
#include <memory>
#include <unordered_map>
#include <utility>

extern char** environ;

namespace sched {

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}

std::string ExitStatus::describe() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return "signal " + std::to_string(signal) + " (SIG" + (name ? name : "?") + ")";
  }
  return "exit code " + std::to_string(code);
}

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      throw SpawnError("pipe2: " + std::string(strerror(errno)), errno);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  int take_r() { return std::exchange(r, -1); }
  int take_w() { return std::exchange(w, -1); }
};

// For the scheduler's ends of new pipes (pipe2 gave them no status flag): one call, not a
// read of the flags first.
void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
}

// posix_spawn attributes, released on every path.
struct SpawnAttributes {
  posix_spawnattr_t attr;
  SpawnAttributes() { posix_spawnattr_init(&attr); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

// The file actions of a spawn: the child's ends of the three pipes become its stdin, stdout
// and stderr, every other descriptor is closed, and it changes to `cwd` (if any; glibc keeps a
// copy of the path).
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions(int in, int out, int err, const std::string& cwd) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

// The file actions for these descriptors and directory, made once and used again. glibc checks
// each descriptor given to posix_spawn_file_actions_adddup2() and _addclosefrom_np() against
// RLIMIT_NOFILE, a prlimit64 system call each: 7 for every spawn. New pipes take the lowest
// free descriptors, so the same combinations come back: always the same three at host max 1,
// and at host max 8 a few hundred, as agents end in any order (with the 32 most recently used
// kept, 6.3 of the 7 calls were still made a spawn; with up to 1,024, 0.5 to 0.3 from 10 to 30 s
// into a drain of one-line steps). Up to kKept are kept (about 0.5 MB), then all are dropped.
// Only ever used from the loop's thread.
struct ActionsKey {
  int in, out, err;
  std::string cwd;
  bool operator==(const ActionsKey&) const = default;
};
struct ActionsKeyHash {
  std::size_t operator()(const ActionsKey& k) const noexcept {
    std::size_t h = std::hash<std::string>{}(k.cwd);
    for (int fd : {k.in, k.out, k.err}) h = h * 1000003u ^ static_cast<std::size_t>(fd);
    return h;
  }
};

const posix_spawn_file_actions_t& file_actions(int in, int out, int err, const std::string& cwd) {
  constexpr std::size_t kKept = 1024;
  static std::unordered_map<ActionsKey, std::unique_ptr<FileActions>, ActionsKeyHash> kept;
  ActionsKey key{in, out, err, cwd};
  auto it = kept.find(key);
  if (it == kept.end()) {
    if (kept.size() == kKept) kept.clear();
    it = kept.emplace(std::move(key), std::make_unique<FileActions>(in, out, err, cwd)).first;
  }
  return it->second->actions;
}

// The scheduler's environment minus its database secrets (agents reach the database through
// `DB:` lines, never with the scheduler's credentials). Pointers into `environ`, valid until
// the next setenv: used at once.
std::vector<char*> agent_environment() {
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (std::find(std::begin(kSecretVariables), std::end(kSecretVariables), name) !=
        std::end(kSecretVariables))
      continue;
    env.push_back(*e);
  }
  env.push_back(nullptr);
  return env;
}

}  // namespace

std::unique_ptr<AgentProcess> AgentProcess::spawn(const std::vector<std::string>& argv,
                                                  const std::string& cwd, Callbacks callbacks) {
  if (argv.empty()) throw SpawnError("empty command", EINVAL);
  Pipe in, out, err;
  SpawnAttributes s;
  // Own process group; default dispositions for what the scheduler ignores or catches.
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  posix_spawnattr_setflags(&s.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setsigmask(&s.attr, &empty);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  const posix_spawn_file_actions_t& actions = file_actions(in.r, out.w, err.w, cwd);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  bool search = argv[0].find('/') == std::string::npos;
  std::vector<char*> env = agent_environment();
  int rc = search ? posix_spawnp(&pid, args[0], &actions, &s.attr, args.data(), env.data())
                  : posix_spawn(&pid, args[0], &actions, &s.attr, args.data(), env.data());
  if (rc != 0) throw SpawnError("cannot execute '" + argv[0] + "': " + strerror(rc), rc);

  std::unique_ptr<AgentProcess> p(new AgentProcess());
  p->pid_ = pid;
  p->in_ = in.take_w();
  p->out_ = out.take_r();
  p->err_ = err.take_r();
  for (int fd : {p->in_, p->out_, p->err_}) set_nonblocking(fd);
  p->cb_ = std::move(callbacks);
  p->start_watches();
  return p;
}

AgentProcess::~AgentProcess() {
  if (!exited_ && pid_ > 0) ::kill(-pid_, SIGKILL);
  for (int fd : {in_, out_, err_})
    if (fd >= 0) close(fd);
}

void AgentProcess::start_watches() {
  out_watch_ =
      Source::watch_fd(out_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR),
                       [this](GIOCondition) { return on_readable(out_, out_lines_, true); });
  err_watch_ =
      Source::watch_fd(err_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR),
                       [this](GIOCondition) { return on_readable(err_, err_lines_, false); });
  child_watch_ = Source::child(pid_, [this](int status) { on_child_exit(status); });
}

// Reads what is available; returns false (ending the watch) at EOF or on error.
//
// When handling stdout sent the agent all it has to answer (await_answer(): the next data line
// after the OK of the only one in flight), the agent may have answered already: sharing our
// CPU, it is woken by the write, preempts us and replies before write(2) returns. Reading again
// at once then saves a pass of the loop and its epoll_wait per line. An agent with more lines
// in flight answers them anyway, and is better read once a pass, many OKs at a time. A re-read
// that finds nothing (the agent runs on another CPU, or works a while) pauses re-reading
// (RereadPause); and at most kRereads re-reads follow one event, so that other work never
// waits long.
bool AgentProcess::on_readable(int& fd, agent::protocol::LineSplitter& splitter, bool is_stdout) {
  constexpr int kRereads = 32;
  char buf[65536];
  std::vector<agent::protocol::LineSplitter::Line> lines;
  for (int round = 0;; ++round) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (round > 0) reread_.found();
      answer_awaited_ = false;
      lines.clear();
      splitter.feed(std::string_view(buf, static_cast<std::size_t>(n)), lines);
      auto& sink = is_stdout ? cb_.on_stdout : cb_.on_stderr;
      {
        Hold hold(*this);  // the answers to these lines (the next data lines) in one write
        for (const auto& line : lines) {
          if (exited_) break;
          sink(line.text, line.cut);
        }
      }
      if (!is_stdout || exited_ || fd < 0 || !answer_awaited_ || round == kRereads) return true;
      if (!reread_.now()) return true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (round > 0) reread_.missed();
      return true;
    }
    close(fd);  // EOF or error: the child closed its end (or died)
    fd = -1;
    return false;
  }
}

// At exit: deliver whatever is still in the pipe, without waiting for EOF (a grandchild may
// hold the write end). An unfinished last line is dropped: the writer died mid-line.
void AgentProcess::drain(int& fd, agent::protocol::LineSplitter& splitter, bool is_stdout) {
  while (fd >= 0) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::vector<agent::protocol::LineSplitter::Line> lines;
    splitter.feed(std::string_view(buf, static_cast<std::size_t>(n)), lines);
    auto& sink = is_stdout ? cb_.on_stdout : cb_.on_stderr;
    for (const auto& line : lines) sink(line.text, line.cut);
  }
  splitter.clear_partial();
}

void AgentProcess::on_child_exit(int status) {
  drain(out_, out_lines_, true);
  drain(err_, err_lines_, false);
  exited_ = true;
  ::kill(-pid_, SIGKILL);  // leftovers of the group (grandchildren) do not survive
  out_watch_.reset();
  err_watch_.reset();
  in_watch_.reset();
  kill_timer_.reset();
  for (int* fd : {&in_, &out_, &err_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  auto on_exit = std::move(cb_.on_exit);
  on_exit(ExitStatus::from_wait_status(status));  // may destroy *this
}

void AgentProcess::send(std::string_view bytes) {
  if (in_ < 0 || close_requested_) return;
  outbuf_.append(bytes);
  flush_if_idle();
}

void AgentProcess::flush_if_idle() {
  if (held_ == 0 && !in_watch_.active()) flush_stdin();
}

// Writes queued bytes; keeps a G_IO_OUT watch while the pipe is full. Returns whether the
// watch should stay.
bool AgentProcess::flush_stdin() {
  while (!outbuf_.empty() && in_ >= 0) {
    ssize_t n = write(in_, outbuf_.data(), outbuf_.size());
    if (n > 0) {
      outbuf_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!in_watch_.active())
        in_watch_ = Source::watch_fd(in_, G_IO_OUT, [this](GIOCondition) { return flush_stdin(); });
      return true;
    }
    outbuf_.clear();  // EPIPE: the child closed stdin; its exit will be reported
  }
  if (close_requested_ && in_ >= 0) {
    close(in_);
    in_ = -1;
  }
  if (in_watch_.active()) {
    // Returning false ends the watch; its Source must not remove it a second time.
    in_watch_ = Source();
  }
  return false;
}

void AgentProcess::close_stdin() {
  close_requested_ = true;
  flush_if_idle();
}

void AgentProcess::signal_group(int sig) {
  if (!exited_ && pid_ > 0) ::kill(-pid_, sig);
}

void AgentProcess::terminate(std::chrono::milliseconds grace) {
  if (exited_ || terminating_) return;
  terminating_ = true;
  signal_group(SIGCONT);  // a stopped (paused) agent must be able to act on SIGTERM
  signal_group(SIGTERM);
  kill_timer_ = Source::timer(grace, [this] { signal_group(SIGKILL); });
}

}  // namespace sched
