// The control interface's side of the dispatcher (interface_commands.cpp calls these): pause,
// restart, kill, priority and verbosity of a step, and the views of steps, agents and hosts.
#include "queue_sql.hpp"
#include "scheduler.hpp"

namespace sched {

namespace {
// Control writes accepted while the database is away (the scheduler's own are bounded by the
// steps in memory: one start, one end, one items count each).
constexpr std::size_t kMaxWaitingWrites = 10000;
}  // namespace

// While the database is away, control writes wait with the rest, up to a bound.
bool Scheduler::may_write(std::string& error) const {
  if (db_.connected() || db_.pending() < kMaxWaitingWrites) return true;
  error = fmt::format("the database is away and {} writes wait already; try again later",
                      db_.pending());
  return false;
}

bool Scheduler::pause(long long jq_pk, std::string& error) {
  if (!may_write(error)) return false;
  Job* job = find(jq_pk);
  if (job && !job->active()) {
    error = fmt::format("step {} is {}", jq_pk, job_state_name(job->state));
    return false;
  }
  if (job) {
    job->before_pause = job->state;
    job->state = JobState::Paused;
    for (auto& a : agents_)
      if (a->jq_pk() == jq_pk) a->pause();
    job->log.write(log::Level::kNote, "Paused");
  }
  db_.query(sql::kPauseStep, {std::to_string(jq_pk)});
  request_dispatch();  // its slots are free for others
  return true;
}

bool Scheduler::restart(long long jq_pk, std::string& error) {
  if (!may_write(error)) return false;
  Job* job = find(jq_pk);
  if (job && job->state != JobState::Paused) {
    error = fmt::format("step {} is not paused ({})", jq_pk, job_state_name(job->state));
    return false;
  }
  if (job) {
    job->state = job->before_pause;
    for (auto& a : agents_)
      if (a->jq_pk() == jq_pk) a->resume();
    job->log.write(log::Level::kNote, "Restarted");
  }
  db_.query(sql::kRestartStep, {std::to_string(jq_pk), job ? "false" : "true"});
  request_dispatch();
  return true;
}

bool Scheduler::kill(long long jq_pk, const std::string& message, std::string& error) {
  if (!may_write(error)) return false;
  std::string text = "killed: " + message;
  if (Job* job = find(jq_pk)) {
    if (job->ending) {
      error = fmt::format("step {} is already ending", jq_pk);
      return false;
    }
    end_job(*job, false, text);
    settle(jq_pk);
    return true;
  }
  db_.query(sql::kFailStep, {std::to_string(jq_pk), "0", text},
            [this, jq_pk](const QueryResult& r) {
              if (!r.ok()) log::error("JOB[{}]: cannot record the kill: {}", jq_pk, r.error());
              request_poll();
            });
  return true;
}

bool Scheduler::set_priority(long long jq_pk, int priority, std::string& error) {
  if (!may_write(error)) return false;
  if (Job* job = find(jq_pk)) job->row.priority = priority;
  db_.query(sql::kPriority, {std::to_string(jq_pk), std::to_string(priority)});
  request_dispatch();
  return true;
}

bool Scheduler::set_verbose(long long jq_pk, int level, std::string& error) {
  if (!find(jq_pk)) {
    error = fmt::format("invalid job id = {}", jq_pk);
    return false;
  }
  for (auto& a : agents_)
    if (a->jq_pk() == jq_pk) a->set_verbose(level);
  return true;
}

std::vector<JobView> Scheduler::jobs() const {
  std::vector<JobView> out;
  for (const auto& [pk, job] : jobs_)
    out.push_back({pk, job->row.type, std::string(job_state_name(job->state)), job->row.priority,
                   job->agents, job->failures, job->items});
  return out;
}

std::vector<AgentView> Scheduler::agents() const {
  std::vector<AgentView> out;
  for (const auto& a : agents_)
    out.push_back({a->pid(), a->jq_pk(), a->host().name, a->type().name,
                   std::string(state_name(a->state())), a->last_seen_wall()});
  return out;
}

std::vector<std::string> Scheduler::valid_agent_types() const {
  std::vector<std::string> out;
  for (const auto& [name, type] : config_->agents)
    if (!invalid_.count(name)) out.push_back(name);
  return out;
}

std::map<std::string, int> Scheduler::host_load() const {
  std::map<std::string, int> load;
  for (const auto& h : config_->hosts) load[h.name] = running_on(h.name);
  return load;
}

}  // namespace sched
