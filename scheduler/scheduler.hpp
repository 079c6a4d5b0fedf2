// Scheduler: the dispatcher. It owns the steps taken from the queue (Job), the agents running
// them (Agent) and the per-host and per-type limits, and reacts to loop events: NOTIFY and
// the fallback poll, agent lines and deaths, signals and control commands. Everything runs on
// the one main-loop thread; database writes go through the asynchronous Database in order.
//
// Dispatch (SPEC §4, §5): ready steps by priority then age; a step of an EXCLUSIVE type waits
// until nothing runs, then runs alone; LOCAL types only on a localhost host; per-type and
// per-host `max`. Dispatch is requested by events and runs once per loop iteration.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent.hpp"
#include "agent_db.hpp"
#include "config.hpp"
#include "database.hpp"
#include "event_loop.hpp"
#include "host_status.hpp"
#include "job.hpp"

namespace sched {

// What `status` shows of one step or agent (for the control interface).
struct JobView {
  long long jq_pk;
  std::string type;
  std::string state;
  int priority;
  int running;
  int failures;
  std::uint64_t items;
};
struct AgentView {
  pid_t pid;
  long long jq_pk;
  std::string host;
  std::string type;
  std::string state;
  std::chrono::system_clock::time_point last_seen;
};

class Scheduler final : public AgentListener {
 public:
  Scheduler(std::shared_ptr<const Config> config, Database& db);
  ~Scheduler() override;

  // LISTENs for new steps, arms the fallback poll and polls once.
  void start();
  // Looks at the queue now (coalesced with a poll already under way). Steps behind a failed
  // prerequisite are failed by the database itself (sql/migrations/004_dependencies.sql).
  void request_poll();

  // The database connection is back after an outage: NOTIFYs were missed, read the queue.
  // (What waited meanwhile is sent first: the Database kept it.) Agents started before it
  // had sessions of their own that the outage may have cut: their deaths do not count.
  void database_back() {
    ++db_generation_;
    request_poll();
  }

  // TERM: start nothing new, let running agents finish. QUIT (force): kill them and fail
  // their steps. `on_done` runs once nothing is left to wait for.
  void shutdown(bool force, std::function<void()> on_done);
  bool closing() const { return closing_; }
  // HUP: a new configuration for agents started from now on.
  void reload(std::shared_ptr<const Config> config);
  // Agent types that failed a self-test: their steps fail with this reason.
  void set_invalid(std::map<std::string, std::string> invalid);

  // Control commands; false (with `error`) when the step is unknown or in the wrong state.
  bool pause(long long jq_pk, std::string& error);
  bool restart(long long jq_pk, std::string& error);
  bool kill(long long jq_pk, const std::string& message, std::string& error);
  bool set_priority(long long jq_pk, int priority, std::string& error);
  bool set_verbose(long long jq_pk, int level, std::string& error);

  std::vector<JobView> jobs() const;
  std::vector<AgentView> agents() const;
  std::map<std::string, int> host_load() const;
  // Whether a host was found down (ssh could not reach it) and waits for its retry.
  bool host_down(const std::string& host) const { return hosts_.down(host); }
  std::vector<std::string> valid_agent_types() const;  // running agents per host
  const Config& config() const { return *config_; }

  // AgentListener
  void on_agent_running(Agent& agent) override;
  void on_agent_items(Agent& agent, std::uint64_t delta) override;
  void on_agent_db(Agent& agent, const std::string& sql) override;
  void on_agent_subs(Agent& agent, const std::string& key, const std::string& value) override;
  void on_agent_bad_data(Agent& agent, const std::string& why) override;
  void on_agent_exit(Agent& agent, const AgentOutcome& outcome) override;

 private:
  void poll_now();
  void on_notify(const std::string& payload);
  void check_ended_outside(long long jq_pk);
  void on_ready_steps(const QueryResult& result, bool by_group);
  void request_dispatch();
  void dispatch();
  bool dispatch_job(Job& job, bool& stop);
  std::optional<std::string> cannot_run(const Job& job, const AgentType* type) const;
  bool room_anywhere() const;
  bool start_agent(Job& job, const AgentType& type, const HostConfig& host);
  int running_on(const std::string& host) const;
  int running_of(const std::string& type) const;
  std::size_t waiting_capacity(const Job& job, const std::string& host) const;
  void end_job(Job& job, bool ok, const std::string& message);
  void count_failure(Job& job, const Agent& agent, const std::string& reason,
                     const std::string& said);
  void maybe_complete(Job& job);
  void forget_job(long long jq_pk);
  std::size_t waiting_in_memory() const;
  std::size_t slots() const;
  std::size_t poll_size() const;
  bool room_beyond_rank() const;
  // The steps of one type with one jq_host (or none): where they may run is the same.
  using Group = std::pair<std::string, std::optional<std::string>>;
  std::size_t group_cap(const AgentType& type, const std::optional<std::string>& host) const;
  std::map<Group, std::size_t> group_rooms() const;
  void settle(long long jq_pk);
  // SQL-fed steps, DB: and JQ_SUBS (scheduler_feed.cpp).
  std::unique_ptr<DataSource> make_source(const StepRow& row);
  void on_source_rows(long long jq_pk);
  void on_source_end(long long jq_pk, bool ok, const std::string& text);
  void flush_items();
  bool may_write(std::string& error) const;  // control writes while the database is away
  void check_shutdown();
  std::string pks_in_memory() const;
  Job* find(long long jq_pk);

  std::shared_ptr<const Config> config_;
  Database& db_;
  std::map<long long, std::unique_ptr<Job>> jobs_;
  std::list<std::unique_ptr<Agent>> agents_;
  std::map<std::string, std::string> invalid_;
  std::size_t rr_ = 0;  // round-robin start among hosts
  bool poll_running_ = false, poll_again_ = false;
  bool more_ready_ = false;          // the last poll returned as many steps as it asked for
  std::set<long long> ended_by_us_;  // ends written here whose NOTIFY has not come back yet
  bool closing_ = false;
  std::function<void()> on_done_;
  Source poll_timer_, top_up_;
  Pending dispatch_pending_{[this] { dispatch(); }};  // request_dispatch()
  Deadline items_flush_;
  HostStatus hosts_;                   // remote hosts found down (ssh exit 255 before OK)
  std::unique_ptr<AgentDb> agent_db_;  // DB: requests, on a connection of their own
  // Database outages: a new connection (database_back) makes a new generation; each agent
  // remembers the one it was started in (docs/scheduler.md, "When the database goes away").
  std::uint64_t db_generation_ = 0;
  std::map<const Agent*, std::uint64_t> started_in_;
};

}  // namespace sched
