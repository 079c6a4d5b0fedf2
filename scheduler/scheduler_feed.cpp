// The Scheduler's data side (SPEC §5.1, §5.2, §2.1): the data source of a step (plain or
// SQL-fed), the SQL-fed steps' events, agents' DB: requests and JQ_SUBS. The dispatcher that
// uses them is in scheduler.cpp.
#include <algorithm>

#include "queue_sql.hpp"
#include "scheduler.hpp"
#include "sql_source.hpp"

namespace sched {

namespace {
constexpr std::size_t kMaxSubs = 64;
constexpr std::chrono::milliseconds kDbStatementTimeout{30'000};
}  // namespace

// A step's jq_args line (SPEC §5.1), or the rows of its query routed to hosts (§5.2).
std::unique_ptr<DataSource> Scheduler::make_source(const StepRow& row) {
  if (!row.runonpfile || row.runonpfile->empty())
    return std::make_unique<PlainSource>(row.args.value_or(""));
  long long pk = row.jq_pk;
  SqlSourceEvents events;
  events.rows = [this, pk] { on_source_rows(pk); };
  events.known = [this, pk](std::size_t n) {
    db_.write_latest("known " + std::to_string(pk), sql::kItemsKnown,
                     {std::to_string(pk), std::to_string(n)});
  };
  events.end = [this, pk](bool ok, const std::string& text) { on_source_end(pk, ok, text); };
  events.warning = [this, pk](const std::string& text) {  // its connection lost, or back
    if (Job* job = find(pk)) job->log.write(log::Level::kWarning, text);
    log::warning("JOB[{}]: {}", pk, text);
  };
  return std::make_unique<SqlSource>(db_.conninfo(), row.args.value_or(""), *row.runonpfile,
                                     Router(config_->repository), std::move(events));
}

// New rows: idle agents of the step take them, and the dispatcher may start more agents.
void Scheduler::on_source_rows(long long jq_pk) {
  for (auto& a : agents_)
    if (a->jq_pk() == jq_pk) a->feed();
  request_dispatch();
}

// The rows are used up (ok; `text` is a warning or "") or the query failed (`text` says why).
void Scheduler::on_source_end(long long jq_pk, bool ok, const std::string& text) {
  Job* job = find(jq_pk);
  if (!job || job->ending) return;
  if (!ok) {
    end_job(*job, false, text);
    settle(jq_pk);
    return;
  }
  if (!text.empty()) {
    job->log.write(log::Level::kWarning, text);
    log::warning("JOB[{}]: {}", jq_pk, text);
  }
  for (auto& a : agents_)
    if (a->jq_pk() == jq_pk) a->feed();  // ends the data of idle agents
  if (job->agents == 0) {
    end_job(*job, true, "Completed");
    settle(jq_pk);
  }
}

void Scheduler::on_agent_db(Agent& agent, const std::string& statement) {
  if (!agent.type().allow_db) {
    std::string why =
        fmt::format("not permitted: allow_db is not true in {}", agent.type().conf_path);
    if (Job* job = find(agent.jq_pk()))
      job->log.write(log::Level::kWarning, fmt::format("DB: {}: \"{}\"", why, statement));
    agent.reply_db({}, why);
    return;
  }
  if (!agent_db_) agent_db_ = std::make_unique<AgentDb>(db_.conninfo(), kDbStatementTimeout);
  pid_t pid = agent.pid();
  agent_db_->run(statement,
                 [this, pid](const std::vector<std::string>& lines, const std::string& error) {
                   auto it = std::find_if(agents_.begin(), agents_.end(),
                                          [pid](const auto& a) { return a->pid() == pid; });
                   if (it != agents_.end())
                     (*it)->reply_db(lines, error);  // else it died meanwhile
                 });
}

// JQ_SUBS: kept per step (a key sent again takes the new value); an SQL-fed step uses them from
// its next run of the query on.
void Scheduler::on_agent_subs(Agent& agent, const std::string& key, const std::string& value) {
  Job* job = find(agent.jq_pk());
  if (!job) return;
  auto same = std::find_if(job->subs.begin(), job->subs.end(),
                           [&](const auto& kv) { return kv.first == key; });
  if (same != job->subs.end()) {
    same->second = value;
  } else if (job->subs.size() >= kMaxSubs) {
    job->log.write(log::Level::kWarning,
                   fmt::format("JQ_SUBS '{}' ignored: more than {} substitutions", key, kMaxSubs));
    return;
  } else {
    job->subs.emplace_back(key, value);
  }
  if (auto* sql = dynamic_cast<SqlSource*>(job->data.get())) sql->set_subs(job->subs);
}

}  // namespace sched
