// Implementation of the test helpers (support.hpp). Owned by the test harness; every
// resource (fd, child, PGconn, PGresult, directory, database) is released by a destructor,
// and nothing here calls exit() or asserts: failures throw std::runtime_error with context.
#include "support.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

extern char** environ;

namespace test {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string("environment variable ") + name +
                             " is not set (run the test through ctest, which sets it)");
  }
  return v;
}

std::string state_dir() {
  return required_env("JOBLINE_TEST_STATE");
}

// JOBLINE_TEST_KEEP=1 (the benchmarks): temp dirs and databases are left for the caller, who
// removes the whole state when the measuring is over. On ext4 without a journal (these VMs) a
// file created within a minute or so of many deletions costs several times more, which the
// next benchmark would measure (docs/testing.md).
bool keep_temporaries() {
  const char* v = std::getenv("JOBLINE_TEST_KEEP");
  return v != nullptr && std::string_view(v) == "1";
}

std::string read_trimmed_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(what + " not found: cannot read '" + path + "'");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) throw std::runtime_error(what + " file '" + path + "' is empty");
  return s;
}

// Milliseconds left until `deadline`, clamped to [0, INT_MAX] for poll().
int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  if (left.count() > 1'000'000'000) return 1'000'000'000;
  return static_cast<int>(left.count());
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// ---- libpq RAII -------------------------------------------------------------------------
struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

Conn connect(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()));
  if (!c) throw std::runtime_error("PQconnectdb: out of memory");
  if (PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to '" + conninfo + "': " + PQerrorMessage(c.get()));
  }
  return c;
}

// Runs `sql` (several statements allowed) and returns the last result; throws on error.
Result exec(PGconn* c, const std::string& sql) {
  Result r(PQexec(c, sql.c_str()));
  if (!r) throw std::runtime_error(std::string("PQexec: ") + PQerrorMessage(c));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    throw std::runtime_error("SQL failed: " + std::string(PQresultErrorMessage(r.get())) +
                             "  in: " + sql);
  }
  return r;
}

std::string quote_conninfo_value(const std::string& v) {
  std::string out = "'";
  for (char ch : v) {
    if (ch == '\\' || ch == '\'') out += '\\';
    out += ch;
  }
  return out + "'";
}

// `conninfo` with its dbname replaced by `dbname`.
std::string with_dbname(const std::string& conninfo, const std::string& dbname) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    throw std::runtime_error("bad conninfo '" + conninfo + "': " + msg);
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::strcmp(o->keyword, "dbname") == 0) continue;
    out += std::string(o->keyword) + "=" + quote_conninfo_value(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + quote_conninfo_value(dbname);
}

// ---- process helpers --------------------------------------------------------------------
void ignore_sigpipe_once() {
  static const bool done = [] {
    std::signal(SIGPIPE, SIG_IGN);  // writes to a dead child fail with EPIPE instead
    return true;
  }();
  (void)done;
}

std::vector<std::string> build_env(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && overrides.count(kv.substr(0, eq)) != 0) continue;
    env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Reads what is available from `fd` into `buf`; returns false at EOF (and closes fd).
bool drain(int& fd, std::string& buf) {
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      close_fd(fd);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    throw_errno("read from child");
  }
}

}  // namespace

// ---- paths and directories --------------------------------------------------------------
std::string build_dir() {
  return required_env("JOBLINE_BUILD_DIR");
}
std::string source_dir() {
  return required_env("JOBLINE_SOURCE_DIR");
}

TempDir::TempDir() {
  std::string base = state_dir() + "/tmp";
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) throw std::runtime_error("cannot create '" + base + "': " + ec.message());
  std::string tmpl = base + "/d.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp '" + tmpl + "'");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (keep_temporaries()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: a destructor must not throw
}

// ---- databases ----------------------------------------------------------------------------
std::string cluster_conninfo() {
  return read_trimmed_file(state_dir() + "/pg/conninfo",
                           "PostgreSQL fixture conninfo (is the `pg` fixture running?)");
}

std::string ssh_command() {
  return read_trimmed_file(state_dir() + "/sshd/ssh_command",
                           "sshd fixture ssh_command (is the `sshd` fixture running?)");
}

TempDatabase::TempDatabase() : TempDatabase(cluster_conninfo()) {}

TempDatabase::TempDatabase(std::string cluster) : cluster_(std::move(cluster)) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  name_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(rd() % 1'000'000);
  Conn c = connect(cluster_);
  exec(c.get(), "CREATE DATABASE \"" + name_ + "\"");
  conninfo_ = with_dbname(cluster_, name_);
}

TempDatabase::~TempDatabase() {
  if (keep_temporaries()) return;
  try {
    Conn c = connect(cluster_);
    exec(c.get(), "DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
  } catch (const std::exception&) {
    // The fixture's cluster teardown removes whatever is left.
  }
}

std::string TempDatabase::query(const std::string& sql) const {
  return Session(conninfo_).query(sql);
}

std::vector<std::string> TempDatabase::rows(const std::string& sql) const {
  return Session(conninfo_).rows(sql);
}

// ---- Session ------------------------------------------------------------------------------
void Session::Finish::operator()(pg_conn* c) const {
  PQfinish(c);
}

Session::Session(const std::string& conninfo) : conn_(connect(conninfo).release()) {}

Session::~Session() = default;

bool Session::connected() const {
  return PQstatus(conn_.get()) == CONNECTION_OK;
}

std::string Session::query(const std::string& sql) {
  Result r = exec(conn_.get(), sql);
  if (PQntuples(r.get()) == 0 || PQnfields(r.get()) == 0) return "";
  return std::string(PQgetvalue(r.get(), 0, 0), static_cast<size_t>(PQgetlength(r.get(), 0, 0)));
}

std::vector<std::string> Session::rows(const std::string& sql) {
  Result r = exec(conn_.get(), sql);
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string line;
    for (int j = 0; j < PQnfields(r.get()); ++j) {
      if (j > 0) line += '|';
      if (PQgetisnull(r.get(), i, j)) {
        line += "<null>";
      } else {
        line.append(PQgetvalue(r.get(), i, j), static_cast<size_t>(PQgetlength(r.get(), i, j)));
      }
    }
    out.push_back(std::move(line));
  }
  return out;
}

// ---- Child --------------------------------------------------------------------------------
Child::Child(std::vector<std::string> argv, Options options) {
  if (argv.empty()) throw std::runtime_error("Child: empty argv");
  ignore_sigpipe_once();
  int in[2], out[2], err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (options.stdout_packets && options.merge_stderr)
    throw std::runtime_error("Child: stdout_packets with merge_stderr");
  if (options.stdout_packets) {
    // out[0] is ours, out[1] the child's, as with the pipe.
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, out) != 0)
      throw_errno("socketpair");
  } else if (::pipe2(out, O_CLOEXEC) != 0) {
    throw_errno("pipe2");
  }
  if (!options.merge_stderr && ::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe2");

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, options.merge_stderr ? out[1] : err[1], 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all_default;
  sigemptyset(&none);
  sigfillset(&all_default);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all_default);  // undo our SIGPIPE ignore
  posix_spawnattr_setpgroup(&attr, 0);                 // its own process group
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

  std::vector<std::string> env = build_env(options.env);
  std::vector<char*> cargv = c_strings(argv);
  std::vector<char*> cenv = c_strings(env);
  int rc = ::posix_spawnp(&pid_, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (err[1] >= 0) ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  if (rc != 0) {
    close_fd(in_);
    close_fd(out_);
    close_fd(err_);
    pid_ = -1;
    throw std::runtime_error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  }
  ::fcntl(out_, F_SETFL, O_NONBLOCK);
  if (err_ >= 0) ::fcntl(err_, F_SETFL, O_NONBLOCK);
}

Child::~Child() {
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);  // the whole group, grandchildren included
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
  }
}

void Child::write(const std::string& bytes) {
  if (in_ < 0) throw std::runtime_error("Child::write: stdin already closed");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(in_, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write to child " + std::to_string(pid_));
    }
    off += static_cast<size_t>(n);
  }
}

void Child::close_stdin() {
  close_fd(in_);
}

// Waits for data on stdout (stderr is drained into errbuf_ meanwhile so the child never
// blocks on a full stderr pipe). Returns false on timeout or when stdout is at EOF.
bool Child::pump(Clock::time_point deadline) {
  for (;;) {
    if (out_ < 0) return false;
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    nfds_t n = err_ >= 0 ? 2 : 1;
    int rc = ::poll(fds, n, remaining_ms(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (rc == 0) return false;
    if (n == 2 && fds[1].revents != 0) drain(err_, errbuf_);
    if (fds[0].revents != 0) {
      drain(out_, outbuf_);
      return true;
    }
  }
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto nl = outbuf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = outbuf_.substr(0, nl);
      outbuf_.erase(0, nl + 1);
      return line;
    }
    if (out_ < 0) {  // EOF: a last unterminated line still counts as a line
      if (outbuf_.empty()) return std::nullopt;
      return std::exchange(outbuf_, std::string());
    }
    if (!pump(deadline) && out_ >= 0) return std::nullopt;  // timeout
  }
}

std::optional<std::string> Child::read_packet(std::chrono::milliseconds timeout) {
  if (!outbuf_.empty()) throw std::logic_error("Child::read_packet after a partial read_line");
  // One read(2) of a SOCK_SEQPACKET socket takes one packet: pump() reads once.
  if (!pump(Clock::now() + timeout) || outbuf_.empty()) return std::nullopt;
  return std::exchange(outbuf_, std::string());
}

bool Child::wait_for_line(const std::string& line, std::chrono::milliseconds timeout,
                          std::vector<std::string>* seen) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto l = read_line(std::chrono::milliseconds(remaining_ms(deadline)));
    if (!l) return false;
    if (*l == line) return true;
    if (seen != nullptr) seen->push_back(std::move(*l));
  }
}

std::string Child::read_all(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (out_ >= 0 && pump(deadline)) {
  }
  return std::exchange(outbuf_, std::string());
}

std::string Child::read_stderr_all(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (err_ >= 0) {
    pollfd fd{err_, POLLIN, 0};
    int rc = ::poll(&fd, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_errno("poll");
    if (rc == 0) break;
    drain(err_, errbuf_);
  }
  return std::exchange(errbuf_, std::string());
}

void Child::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

void Child::signal_group(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return status_;
  auto deadline = Clock::now() + timeout;
  // A pidfd becomes readable when the child exits: no sleep-polling.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  for (;;) {
    pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      break;
    }
    if (r < 0 && errno != EINTR) {
      if (pidfd >= 0) ::close(pidfd);
      throw_errno("waitpid " + std::to_string(pid_));
    }
    if (Clock::now() >= deadline) break;
    if (pidfd >= 0) {
      pollfd fd{pidfd, POLLIN, 0};
      ::poll(&fd, 1, remaining_ms(deadline));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  if (!reaped_) return std::nullopt;
  return status_;
}

// ---- run / eventually ---------------------------------------------------------------------
int RunResult::exit_code() const {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env,
              std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Child::Options opts;
  opts.env = std::move(env);
  opts.merge_stderr = true;
  Child child(std::move(argv), std::move(opts));
  child.close_stdin();
  RunResult result;
  result.output = child.read_all(timeout);
  auto st = child.wait(std::chrono::milliseconds(remaining_ms(deadline)));
  if (!st) {  // timed out: kill the whole group, then collect the status
    child.signal_group(SIGKILL);
    st = child.wait(10s);
  }
  result.status = st.value_or(-1);
  return result;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace test
