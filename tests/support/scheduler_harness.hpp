// SchedulerHarness: a real scheduler process against a fresh database of the fixture cluster (or
// of a test's own cluster), with a conf dir written for the test. Tests queue steps with SQL and
// assert on jobqueue.
#pragma once

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support.hpp"

namespace test {

struct AgentConf {
  std::string name;     // agents/<name>.conf
  std::string command;  // `command =` (first word: binary under <agentdir>/<name>/)
  int max = -1;
  std::string special;  // e.g. "EXCLUSIVE" or "NOKILL;LOCAL"
  bool allow_db = false;
  std::string extra;  // more `key = value` lines for [default]
};

struct HostConf {
  std::string name = "localhost";
  std::string address = "localhost";
  std::string agentdir;  // default: <build>/tests/agents
  int max = 8;
};

struct SchedulerSettings {
  double startup_timeout = 5, heartbeat_timeout = 10, kill_grace = 1, poll_interval = 30;
  int max_failures = 3;
  std::vector<HostConf> hosts{HostConf{}};
  std::vector<std::string> repository;  // lines for [repository], e.g. "localhost = 00 ff"
  std::vector<AgentConf> agents;        // default: none (add fake_agent variants)
  std::string ssh_command;              // "" = the default
  std::string extra_scheduler;          // more lines for [scheduler]
  // `-v N` on the command line: the tests' level, 2, by default; nullopt gives no -v at all (the
  // packaged default, 0: the main log has no NOTE lines such as "scheduler started", and a step
  // that ends cleanly without output has no log file).
  std::optional<int> verbose = 2;
};

// A conf for fake_agent with `args` appended to its command (see tests/agents/fake_agent.cpp).
AgentConf fake_agent(const std::string& name, const std::string& args = "", int max = -1,
                     const std::string& special = "");

class SchedulerHarness {
 public:
  explicit SchedulerHarness(SchedulerSettings settings = {});
  // The same, with its database in another cluster (e.g. a PrivateCluster's conninfo()).
  SchedulerHarness(SchedulerSettings settings, const std::string& cluster_conninfo);
  ~SchedulerHarness();  // stops the scheduler (SIGKILL if needed)

  TempDatabase& db() { return db_; }
  const std::string& conf_dir() const { return conf_.path(); }
  const std::string& log_path() const { return log_path_; }
  std::string log() const;  // the scheduler's main log so far
  void write_conf();        // (re)writes scheduler.conf and agents/*.conf from settings()
  SchedulerSettings& settings() { return settings_; }

  // Starts `scheduler -c <conf> --db <conninfo> -L <log> [-v <settings().verbose>] <extra>`.
  Child& start(std::vector<std::string> extra = {});
  Child* process() { return scheduler_.get(); }
  void stop(int sig = SIGTERM, std::chrono::milliseconds timeout = 30s);  // signal, wait
  // The wait status of the scheduler stop() last waited for (nullopt if it had to be killed).
  std::optional<int> last_status() const { return last_status_; }
  int port() const { return port_; }  // the TCP control port written into scheduler.conf
  // Sends one control command (SPEC §7) over the scheduler's Unix socket
  // (<conf_dir>/scheduler.sock, written into scheduler.conf) and returns the reply lines up to
  // and including `end` or `CLOSE` (or until the connection closes / timeout).
  std::vector<std::string> control(const std::string& command,
                                   std::chrono::milliseconds timeout = 10s);
  // The same over either transport: the Unix socket or TCP 127.0.0.1:port().
  enum class Transport { kUnix, kTcp };
  std::vector<std::string> control_over(Transport transport, const std::string& command,
                                        std::chrono::milliseconds timeout = 10s);
  // Runs the scheduler binary to completion with these arguments (for -t, --init-db...).
  RunResult run(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s);

  struct Step {
    std::string type;
    std::string args;
    int priority = 0;
    std::vector<long long> depends{};  // (initialised so that Step{type, args} is warning-free)
    std::optional<std::string> runonpfile{}, host{}, cmd_args{};
  };
  long long queue(const Step& step);  // a new job with one step; returns its jq_pk
  // The statement queue() runs (one row, the jq_pk), for a connection of the caller's own.
  static std::string queue_sql(const Step& step);
  long long queue(const std::string& type, const std::string& args) {
    Step step;
    step.type = type;
    step.args = args;
    return queue(step);
  }

  // These read through a connection the harness keeps open (Session), made again when it was
  // lost: tests poll them every 10 ms, and a new connection a query cost PostgreSQL ~25-45 ms
  // of CPU on these VMs (tests/bench/how_measured.md). Not thread-safe.
  // Waits until the step has ended (jq_endtime set); false on timeout.
  bool wait_ended(long long jq_pk, std::chrono::milliseconds timeout = 60s);
  bool wait_started(long long jq_pk, std::chrono::milliseconds timeout = 60s);
  std::string endtext(long long jq_pk);
  int end_bits(long long jq_pk);
  long long items(long long jq_pk);
  std::string column(long long jq_pk, const std::string& column);  // "" for NULL
  std::string step_log(long long jq_pk);  // the content of the step's jq_log file ("" if none)

 private:
  SchedulerSettings settings_;
  TempDatabase db_;
  std::unique_ptr<Session> reader_;  // for column(); after db_, so closed before it is dropped
  TempDir conf_;
  std::string log_path_;
  std::unique_ptr<Child> scheduler_;
  int port_ = 0;
  std::optional<int> last_status_;
};

}  // namespace test
