// Agent: one running agent as the scheduler sees it — its process, its dialect, the data lines
// it holds, its deadlines and its lifecycle (SPEC §3):
//
//   Created --spawn--> Spawned --first OK--> Running --no more data--> Draining --exit--> gone
//                                               |  ^
//                                         pause |  | restart
//                                               v  |
//                                              Paused
//   any live state --timeout / kill / protocol failure--> Failed --exit--> gone
//
// Draining and Paused are both "PAUSED" in SPEC terms: the agent holds no host slot. An
// Agent is owned by the Scheduler; it reports to an AgentListener and never outlives it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/protocol.hpp"
#include "agent_process.hpp"
#include "config.hpp"
#include "data_source.hpp"
#include "event_loop.hpp"
#include "log.hpp"

namespace sched {

enum class AgentState { Created, Spawned, Running, Paused, Draining, Failed, Gone };
enum class AgentEvent { Spawn, FirstOk, Pause, Resume, NoMoreData, Fail, Exit };

// The lifecycle's one transition function. Returns nullopt for an event that does not apply
// in `state` (the caller ignores it).
std::optional<AgentState> next_state(AgentState state, AgentEvent event);
std::string_view state_name(AgentState state);  // "AGENT_RUNNING", ...

class Agent;

// How an agent ended, as decided when its process exited.
struct AgentOutcome {
  bool success = false;
  std::string reason;      // why it failed ("exit code 3", "no OK within 60 s", "FATAL: ...")
  bool fatal = false;      // the agent itself reported FATAL: the step fails without retry
  bool said_ok = false;    // it said its first OK (it ran; a failure is not its host's)
  bool killed = false;     // the scheduler killed it (a timeout, the step's kill or failure)
  int exit_code = -1;      // the process's exit code, -1 when a signal ended it
  std::string last_error;  // the agent's last `FATAL`/`ERROR` line ("ERROR: ..."), if any
};

// What an Agent tells its owner.
class AgentListener {
 public:
  virtual ~AgentListener() = default;
  virtual void on_agent_running(Agent& agent) = 0;                     // first OK
  virtual void on_agent_items(Agent& agent, std::uint64_t delta) = 0;  // items processed
  virtual void on_agent_db(Agent& agent, const std::string& sql) = 0;  // DB: request
  virtual void on_agent_subs(Agent& agent, const std::string& key, const std::string& value) = 0;
  // A data item could not be sent (see unsendable()): the step fails with `why`.
  virtual void on_agent_bad_data(Agent& agent, const std::string& why) = 0;
  virtual void on_agent_exit(Agent& agent, const AgentOutcome& outcome) = 0;  // may delete it
};

struct AgentSpec {
  std::shared_ptr<const Config> config;  // keeps type and host alive across reloads
  const AgentType* type = nullptr;
  const HostConfig* host = nullptr;
  long long jq_pk = 0;  // < 0 for self-tests
  std::vector<std::string> argv;
  std::string cwd;
};

class Agent {
 public:
  Agent(AgentSpec spec, DataSource* source, AgentListener& listener, log::StepLog* step_log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the process; throws SpawnError when it cannot be executed.
  void start();
  // Feeds data lines up to the window; when the source is finished and nothing is out,
  // ends the data (stdin EOF or CLOSE). Called after each OK and when new data arrives.
  void feed();
  void pause();   // SIGSTOP the group
  void resume();  // SIGCONT the group
  // Ends the agent: SIGTERM, SIGKILL after kill_grace; the outcome will be a failure.
  void kill(const std::string& reason);
  void kill_now(const std::string& reason);  // SIGKILL at once
  // Answers a DB: request (rows as row lines, or an error).
  void reply_db(const std::vector<std::string>& row_lines, const std::string& error);
  void set_verbose(int level);

  AgentState state() const { return state_; }
  pid_t pid() const;
  long long jq_pk() const { return spec_.jq_pk; }
  const AgentType& type() const { return *spec_.type; }
  const HostConfig& host() const { return *spec_.host; }
  const std::string& tag() const { return tag_; }
  bool holds_slot() const;  // counts against host and type limits
  bool idle() const;        // running with nothing out (could take more data)
  std::size_t in_flight() const { return in_flight_.size(); }
  std::chrono::system_clock::time_point last_seen_wall() const { return last_seen_wall_; }
  bool nokill() const;

 private:
  void apply(AgentEvent event);
  void on_line(std::string_view line, bool cut);
  void on_stderr(std::string_view line, bool cut);
  void on_exit(ExitStatus status);
  void handle(const agent::protocol::AgentMessage& message);
  void handle_ok();
  void send_item(const Item& item);
  void end_data();
  void touch();
  void fail(const std::string& reason);
  void log_agent(log::Level level, std::string_view text);

  AgentSpec spec_;
  DataSource* source_;
  AgentListener& listener_;
  log::StepLog* step_log_;
  std::unique_ptr<AgentProcess> process_;
  AgentState state_ = AgentState::Created;
  agent::protocol::Dialect dialect_ = agent::protocol::Dialect::Seed;
  bool first_line_ = true;
  bool said_ok_ = false;
  unsigned window_ = 1;
  std::deque<Item> in_flight_;
  bool fatal_ = false;
  std::optional<int> bye_;
  bool nokill_runtime_ = false;
  std::uint64_t heart_items_ = 0;
  std::string failure_;
  std::string last_error_;  // the last FATAL/ERROR line, for the step's end text
  std::string tag_;
  Deadline startup_, heartbeat_;
  std::chrono::system_clock::time_point last_seen_wall_;
};

}  // namespace sched
