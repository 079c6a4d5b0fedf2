// The dispatcher: starting agents within the limits, ending steps. Reading ready steps into
// memory is in scheduler_queue.cpp, the control interface's side in scheduler_control.cpp,
// SQL-fed sources in scheduler_feed.cpp, agent deaths during outages in scheduler_failure.cpp.
#include "scheduler.hpp"

#include <algorithm>
#include <charconv>

#include "launch.hpp"
#include "queue_sql.hpp"

namespace sched {

namespace {
constexpr std::chrono::milliseconds kItemsFlush{1000};
// How long the poll that tops up the steps in memory may be put off (forget_job).
constexpr std::chrono::milliseconds kTopUp{100};
std::string str(long long v) {
  return std::to_string(v);
}
}  // namespace

std::string_view job_state_name(JobState state) {
  switch (state) {
    case JobState::Queued:
      return "JOB_CHECKEDOUT";
    case JobState::Started:
      return "JOB_STARTED";
    case JobState::Paused:
      return "JOB_PAUSED";
    case JobState::Completed:
      return "JOB_COMPLETE";
    case JobState::Failed:
      return "JOB_FAILED";
  }
  return "JOB_UNKNOWN";
}

Scheduler::Scheduler(std::shared_ptr<const Config> config, Database& db)
    : config_(std::move(config)),
      db_(db),
      items_flush_([this] { flush_items(); }),
      hosts_([this] { request_dispatch(); }) {}

Scheduler::~Scheduler() {
  for (auto& a : agents_) a->kill_now("scheduler exiting");
}

void Scheduler::start() {
  db_.listen(sql::kChannel, [this](const std::string& payload) { on_notify(payload); });
  // What every step runs: parsed and planned once per connection, not once a step.
  for (const char* sql : {sql::kReadySteps, sql::kReadyStepsByGroup, sql::kStartStep, sql::kItems,
                          sql::kCompleteStep, sql::kFailStep})
    db_.prepare(sql);
  request_poll();
}

// A step was queued, re-opened or ended. The ends this scheduler wrote itself are handled
// when their UPDATE answers (a poll only if the step has dependents); a step it holds that
// something else ended (a failed prerequisite's trigger, SQL by hand) is let go.
void Scheduler::on_notify(const std::string& payload) {
  long long pk = 0;
  std::from_chars(payload.data(), payload.data() + payload.size(), pk);
  if (ended_by_us_.erase(pk)) return;
  if (Job* job = find(pk); job && !job->ending) check_ended_outside(pk);
  request_poll();
}

void Scheduler::check_ended_outside(long long jq_pk) {
  db_.query(sql::kStepEnd, {str(jq_pk)}, [this, jq_pk](const QueryResult& r) {
    Job* job = find(jq_pk);
    if (!r.ok() || r.rows() == 0 || !job || job->ending || r.get(0, 0) != "t") return;
    std::string text = r.get(0, 1);
    log::warning("JOB[{}] ended outside the scheduler: {}", jq_pk, text);
    job->ending = true;
    job->state = JobState::Failed;
    job->log.write(log::Level::kWarning, "ended outside the scheduler: " + text);
    for (auto& a : agents_)
      if (a->jq_pk() == jq_pk) a->kill("step ended outside the scheduler: " + text);
    settle(jq_pk);
    request_dispatch();
  });
}

Job* Scheduler::find(long long jq_pk) {
  auto it = jobs_.find(jq_pk);
  return it == jobs_.end() ? nullptr : it->second.get();
}

// ---- Picking work ---------------------------------------------------------------------------
// Reading ready steps into memory: scheduler_queue.cpp.

// make_source, on_agent_db, on_agent_subs: scheduler_feed.cpp.

void Scheduler::request_dispatch() {
  dispatch_pending_.request();
}

int Scheduler::running_on(const std::string& host) const {
  return static_cast<int>(std::count_if(agents_.begin(), agents_.end(), [&](const auto& a) {
    return a->holds_slot() && a->host().name == host;
  }));
}

int Scheduler::running_of(const std::string& type) const {
  return static_cast<int>(std::count_if(agents_.begin(), agents_.end(), [&](const auto& a) {
    return a->holds_slot() && a->type().name == type;
  }));
}

// Items the job's agents on `host` (any host for an unrouted source) can still take without
// a new agent: a starting agent counts for one.
std::size_t Scheduler::waiting_capacity(const Job& job, const std::string& host) const {
  std::size_t n = 0;
  bool routed = job.data->routed();
  for (const auto& a : agents_) {
    if (a->jq_pk() != job.row.jq_pk || (routed && a->host().name != host)) continue;
    if (a->state() == AgentState::Spawned) n += 1;
    if (a->idle()) n += 1;
  }
  return n;
}

void Scheduler::dispatch() {
  dispatch_pending_.cancel();
  if (closing_) return;
  // While the database is away nothing starts: agents that need it would fail at once (and
  // their starts could not be written anyway). database_back() polls, which dispatches.
  if (!db_.connected()) return;
  // An exclusive step that runs keeps everything else waiting (not while it is paused: a
  // paused exclusive step never blocks the queue).
  for (const auto& [pk, job] : jobs_) {
    const AgentType* t = config_->agent(job->row.type);
    if (t && t->has(kExclusive) && job->agents > 0 && job->state != JobState::Paused) return;
  }
  std::vector<Job*> order;
  for (auto& [pk, job] : jobs_)
    if (job->active() && !job->ending) order.push_back(job.get());
  std::stable_sort(order.begin(), order.end(),
                   [](const Job* a, const Job* b) { return a->row.priority > b->row.priority; });
  // With every slot taken, only steps not yet checked are looked at (a bad one fails at once).
  bool room = room_anywhere();
  bool stop = false;
  for (Job* job : order) {
    if (!room && job->checked) continue;
    long long pk = job->row.jq_pk;
    dispatch_job(*job, stop);
    settle(pk);
    if (stop) break;
  }
}

// Why a step can never run as queued (checked once; again after a reload), or nothing.
std::optional<std::string> Scheduler::cannot_run(const Job& job, const AgentType* type) const {
  if (!type)
    return fmt::format("no agent type '{}' (no valid {}/agents/{}.conf)", job.row.type,
                       config_->conf_dir, job.row.type);
  if (auto bad = invalid_.find(type->name); bad != invalid_.end())
    return fmt::format("agent type '{}' is invalid: {}", type->name, bad->second);
  bool sql_fed = job.row.runonpfile && !job.row.runonpfile->empty();
  if (!sql_fed && job.row.args)
    if (auto why = unsendable(*job.row.args, "jq_args")) return why;
  if (sql_fed && job.row.args.value_or("").find_first_not_of(" \t\r\n") == std::string::npos)
    return fmt::format(
        "jq_args is empty; expected the query of an SQL-fed step (jq_runonpfile '{}')",
        *job.row.runonpfile);
  if (job.row.host && !config_->host(*job.row.host))
    return fmt::format("jq_host '{}' is not in [hosts]", *job.row.host);
  return std::nullopt;
}

void Scheduler::set_invalid(std::map<std::string, std::string> invalid) {
  invalid_ = std::move(invalid);
  for (auto& [pk, job] : jobs_) job->checked = false;
}

// Whether some host may start an agent now (a full scheduler skips the start attempts).
bool Scheduler::room_anywhere() const {
  return std::any_of(config_->hosts.begin(), config_->hosts.end(), [this](const HostConfig& h) {
    return running_on(h.name) < h.max && hosts_.may_start(h.name);
  });
}

// Starts the agents one step needs now. Sets `stop` when nothing after it may start.
bool Scheduler::dispatch_job(Job& job, bool& stop) {
  const AgentType* type = config_->agent(job.row.type);
  if (!job.checked) {
    if (auto why = cannot_run(job, type)) {
      end_job(job, false, *why);
      return false;
    }
    job.checked = true;
  }
  // A death that may be the last one allowed is being confirmed: no new agent until then.
  if (job.failures + job.unconfirmed >= config_->max_failures) return false;
  if (type->has(kExclusive)) {
    stop = true;  // nothing after an exclusive step starts while it waits or runs
    // It waits until nothing runs (paused agents and agents finishing do not run).
    bool running =
        std::any_of(agents_.begin(), agents_.end(), [](const auto& a) { return a->holds_slot(); });
    if (job.agents > 0 || running) return false;
  }
  bool started = false;
  std::size_t n = config_->hosts.size();
  for (std::size_t k = 0; k < n; ++k) {
    const HostConfig& host = config_->hosts[(rr_ + k) % n];
    if (type->has(kLocal) && !host.local()) continue;
    if (job.row.host && *job.row.host != host.name) continue;
    if (!hosts_.may_start(host.name)) continue;  // down: its rows wait for it
    while (type->max < 0 || running_of(type->name) < type->max) {
      if (running_on(host.name) >= host.max) break;
      if (!hosts_.may_start(host.name)) break;  // a down host's probe: one agent, not `max`
      if (job.data->available(host.name) <= waiting_capacity(job, host.name)) break;
      if (!start_agent(job, *type, host)) return started;
      started = true;
      if (type->has(kExclusive)) break;
    }
  }
  if (started) rr_ = (rr_ + 1) % std::max<std::size_t>(n, 1);
  return started;
}

bool Scheduler::start_agent(Job& job, const AgentType& type, const HostConfig& host) {
  AgentSpec spec;
  spec.config = config_;
  spec.type = &type;
  spec.host = &host;
  spec.jq_pk = job.row.jq_pk;
  try {
    Launch launch =
        launch_for(*config_, type, host,
                   {job.row.job_pk, job.row.jq_pk, job.row.user, job.row.group, job.row.cmd_args});
    spec.argv = std::move(launch.argv);
    spec.cwd = std::move(launch.cwd);
  } catch (const std::invalid_argument& e) {
    end_job(job, false, e.what());
    return false;
  }
  auto agent = std::make_unique<Agent>(std::move(spec), job.data.get(), *this, &job.log);
  try {
    agent->start();
  } catch (const SpawnError& e) {
    log::error("JOB[{}]: {} on host '{}'", job.row.jq_pk, e.what(), host.name);
    end_job(job, false, e.what());
    return false;
  }
  job.agents++;
  started_in_[agent.get()] = db_generation_;
  hosts_.started(host.name);
  job.log.write(log::Level::kNote, fmt::format("agent started: {}", agent->tag()));
  log::note("{}: started", agent->tag());
  agents_.push_back(std::move(agent));
  return true;
}

// ---- Agent events ---------------------------------------------------------------------------

void Scheduler::on_agent_running(Agent& agent) {
  hosts_.running(agent.host().name);
  Job* job = find(agent.jq_pk());
  if (!job) return;
  if (job->state == JobState::Queued) {
    job->state = JobState::Started;
    job->log.write(log::Level::kNote, "Started");
    db_.write(sql::kStartStep,
              {str(job->row.jq_pk), agent.host().name + "." + std::to_string(agent.pid()),
               job->log.path()},
              [pk = job->row.jq_pk](const QueryResult& r) {
                if (!r.ok()) log::error("JOB[{}]: cannot record its start: {}", pk, r.error());
              });
  }
}

void Scheduler::on_agent_items(Agent& agent, std::uint64_t delta) {
  Job* job = find(agent.jq_pk());
  if (!job) return;
  job->items += delta;
  if (!items_flush_.armed()) items_flush_.arm(Clock::now() + kItemsFlush);
}

void Scheduler::flush_items() {
  for (auto& [pk, job] : jobs_) {
    if (job->items == job->items_written || job->ending) continue;
    job->items_written = job->items;
    // While the database is away, one count per step waits: the latest.
    db_.write_latest("items " + str(pk), sql::kItems, {str(pk), std::to_string(job->items)});
  }
}

void Scheduler::on_agent_bad_data(Agent& agent, const std::string& why) {
  if (Job* job = find(agent.jq_pk())) end_job(*job, false, why);
}

void Scheduler::on_agent_exit(Agent& agent, const AgentOutcome& outcome) {
  long long pk = agent.jq_pk();
  std::string tag = agent.tag();
  auto it = std::find_if(agents_.begin(), agents_.end(),
                         [&](const auto& a) { return a.get() == &agent; });
  Job* job = find(pk);
  // ssh could not reach the host: the host is down, the step did nothing wrong.
  bool host_down = hosts_.exited(agent.host(), outcome.said_ok, outcome.killed, outcome.exit_code,
                                 config_->poll_interval);
  if (outcome.success)
    log::note("{}: exited cleanly", tag);
  else
    log::warning("{}: failed: {}", tag, outcome.reason);
  if (job) {
    job->agents--;
    if (!outcome.success && !job->ending && !host_down) {
      // The agent's own last error says more than its exit status.
      std::string said = outcome.last_error.empty() || outcome.last_error == outcome.reason
                             ? ""
                             : "; last " + outcome.last_error;
      if (outcome.fatal) {
        end_job(*job, false, outcome.reason);
      } else {
        count_failure(*job, agent, outcome.reason, said);
        if (!job->ending && job->agents == 0 && job->data->finished()) job->data->rewind();
      }
    }
  }
  started_in_.erase(&agent);
  if (it != agents_.end()) agents_.erase(it);  // destroys `agent`
  if (job) maybe_complete(*job);
  // The freed slot is refilled at once from the steps in memory: the step's end is written
  // behind (sent, never waited for), and the poll that tops the memory up (settle) follows the
  // spawn.
  dispatch();
  settle(pk);
  check_shutdown();
}

// ---- Ending steps ---------------------------------------------------------------------------

void Scheduler::maybe_complete(Job& job) {
  // A death still being confirmed (count_failure) may yet fail the step.
  if (job.ending || job.agents > 0 || job.unconfirmed > 0 || !job.data->finished()) return;
  if (job.state != JobState::Started) return;
  end_job(job, true, "Completed");
}

void Scheduler::end_job(Job& job, bool ok, const std::string& message) {
  if (job.ending) return;
  job.ending = true;
  job.state = ok ? JobState::Completed : JobState::Failed;
  long long pk = job.row.jq_pk;
  job.log.write(ok ? log::Level::kNote : log::Level::kError,
                ok ? "Completed" : "Failed: " + message);
  if (ok)
    log::note("JOB[{}] completed", pk);
  else
    log::error("JOB[{}] failed: {}", pk, message);
  // Its NOTIFY is ours; its dependents (the UPDATE says whether there are any) may be ready
  // now, or fail with it.
  ended_by_us_.insert(pk);
  auto report = [this, pk](const QueryResult& r) {
    if (!r.ok())
      log::error("JOB[{}]: cannot record its end: {}", pk, r.error());
    else if (r.rows() > 0 && r.get(0, 0) == "t")
      request_poll();
  };
  if (ok) {
    db_.write(sql::kCompleteStep, {str(pk), std::to_string(job.items)}, report);
  } else {
    db_.write(sql::kFailStep, {str(pk), std::to_string(job.items), message}, report);
    for (auto& a : agents_)
      if (a->jq_pk() == pk) a->kill("step failed: " + message);
  }
  request_dispatch();
}

// Forgets a step once its end is decided and its last agent is gone. Called where no
// reference to the Job is held any more.
void Scheduler::settle(long long jq_pk) {
  Job* job = find(jq_pk);
  if (job && job->ending && job->agents == 0) forget_job(jq_pk);
}

void Scheduler::forget_job(long long jq_pk) {
  jobs_.erase(jq_pk);
  // The last poll left ready steps behind (after an agent's exit, the refill from memory has
  // happened already). While more steps wait in memory than there are slots, the poll that
  // tops them up is put off a little (kTopUp) so that a burst of short steps reads the queue a
  // few times a second, not once per step; below that, at once.
  // poll_size() steps waiting and none ranking after them could start: a poll could take
  // nothing.
  std::size_t waiting = waiting_in_memory();
  if (more_ready_ && (waiting < poll_size() || room_beyond_rank())) {
    if (waiting < slots())
      request_poll();
    else if (!top_up_.active())
      top_up_ = Source::timer(kTopUp, [this] { request_poll(); });
  }
  check_shutdown();
}

// ---- Shutdown and reload --------------------------------------------------------------------

void Scheduler::shutdown(bool force, std::function<void()> on_done) {
  closing_ = true;
  on_done_ = std::move(on_done);
  poll_timer_.reset();
  // Steps not started stay in the queue for the next scheduler.
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->agents == 0 && !it->second->ending)
      it = jobs_.erase(it);
    else
      ++it;
  }
  if (force) {
    std::vector<long long> pks;
    for (auto& [pk, job] : jobs_) {
      if (!job->ending) end_job(*job, false, "killed: scheduler stopped with QUIT");
      pks.push_back(pk);
    }
    for (auto& a : agents_) a->kill_now("scheduler stopped with QUIT");
    for (long long pk : pks) settle(pk);
  }
  check_shutdown();
}

void Scheduler::check_shutdown() {
  if (!closing_ || !agents_.empty() || !on_done_) return;
  flush_items();
  auto done = std::move(on_done_);
  on_done_ = nullptr;
  // Every write queued so far is answered before `done` runs (the queue is FIFO).
  db_.query("SELECT 1", {}, [done](const QueryResult&) { done(); });
}

void Scheduler::reload(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  invalid_.clear();
  for (auto& [pk, job] : jobs_) job->checked = false;
  rr_ = 0;
  hosts_.retry_all_now();
  request_poll();
}

}  // namespace sched
