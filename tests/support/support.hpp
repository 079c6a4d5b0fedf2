// Helpers shared by the process, db and e2e tests: the private PostgreSQL cluster the `pg`
// fixture started, throwaway databases in it, and child processes driven through pipes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace test {

using namespace std::chrono_literals;

// Paths of the build and source trees (from the environment CTest sets).
std::string build_dir();
std::string source_dir();
// A fresh empty directory under the test-state dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Conninfo of the fixture cluster's maintenance database (throws if the fixture is not up).
std::string cluster_conninfo();

// The ssh client command line of the `sshd` fixture (tests/fixtures/sshd.sh), e.g.
// "ssh -F /dev/null ... -i <key> -p <port>"; append the host and the remote command.
// Throws if the fixture is not up.
std::string ssh_command();

// One connection, kept open for the queries made through it. TempDatabase::query() connects
// for each query: on these VMs a backend's start and exit cost ~25-45 ms of PostgreSQL's CPU
// (most of it at exit, after the query has answered), which a benchmark that polls or queues
// through it takes from what it measures. Not thread-safe.
class Session {
 public:
  explicit Session(const std::string& conninfo);  // throws std::runtime_error
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // As TempDatabase::query() and rows(), on this connection.
  std::string query(const std::string& sql);
  std::vector<std::string> rows(const std::string& sql);
  // Whether the connection is still up (false once a query found it lost).
  bool connected() const;

 private:
  struct Finish {
    void operator()(pg_conn* c) const;
  };
  std::unique_ptr<pg_conn, Finish> conn_;
};

// A new database in the fixture cluster (or in the cluster whose maintenance database
// `cluster_conninfo` names), dropped (WITH FORCE) by the destructor.
class TempDatabase {
 public:
  TempDatabase();
  explicit TempDatabase(std::string cluster_conninfo);
  ~TempDatabase();
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  const std::string& name() const { return name_; }
  const std::string& conninfo() const { return conninfo_; }
  // Runs SQL (several statements allowed) and returns the first column of the first row of
  // the last result, or "" when there is none; throws std::runtime_error on failure.
  std::string query(const std::string& sql) const;
  // Every row of a query, columns joined with '|', NULL as "<null>".
  std::vector<std::string> rows(const std::string& sql) const;

 private:
  std::string cluster_;
  std::string name_;
  std::string conninfo_;
};

// A child process with its stdin/stdout(/stderr) on pipes, in its own process group.
class Child {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // added to / overriding the environment
    bool merge_stderr = false;               // stderr into the stdout pipe
    std::string cwd;
    // stdout on a SOCK_SEQPACKET socket pair instead of a pipe: each write(2) of the child
    // arrives whole and apart (read_packet). Not with merge_stderr.
    bool stdout_packets = false;
  };
  Child(std::vector<std::string> argv, Options options);
  explicit Child(std::vector<std::string> argv) : Child(std::move(argv), Options{}) {}
  ~Child();  // SIGKILLs the group if still running, then reaps
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void write(const std::string& bytes);  // to the child's stdin
  void close_stdin();
  // The next stdout line (without '\n'), or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 30s);
  // Reads lines until one equals `line` (true) or EOF/timeout (false); others go to `seen`.
  bool wait_for_line(const std::string& line, std::chrono::milliseconds timeout = 30s,
                     std::vector<std::string>* seen = nullptr);
  // With Options::stdout_packets: the bytes of the child's next write(2) to stdout, whole;
  // nullopt at EOF or after `timeout`. Not after read_line() has buffered part of stdout.
  std::optional<std::string> read_packet(std::chrono::milliseconds timeout = 30s);
  // All remaining stdout until EOF (bounded by timeout).
  std::string read_all(std::chrono::milliseconds timeout = 30s);
  std::string read_stderr_all(std::chrono::milliseconds timeout = 30s);
  void signal(int sig);        // to the process
  void signal_group(int sig);  // to its process group
  // Waits for exit; returns the wait status, or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = 30s);

 private:
  // Waits until stdout has new bytes (true) or EOF/deadline (false).
  bool pump(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string outbuf_;
  std::string errbuf_;  // stderr drained while waiting on stdout
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a command to completion; returns {wait status, stdout+stderr}.
struct RunResult {
  int status = -1;
  std::string output;
  int exit_code() const;  // -1 when killed by a signal
};
RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
              std::chrono::milliseconds timeout = 120s);

// Polls `pred` every 10 ms until true or timeout; returns its last value. For waiting on
// outcomes in other processes (the database, files); never used as a timing assertion.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 30s);

}  // namespace test
