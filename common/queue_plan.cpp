// queue_for_upload (queue_plan.hpp).
#include "queue_plan.hpp"

#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "plugin.hpp"

namespace jobctl {

namespace {

// Serialises planners of the same upload (two `jobctl queue` at once reuse, not duplicate).
constexpr const char* kLockUpload = "SELECT pg_advisory_xact_lock(74281902, $1::int)";
constexpr const char* kOpenStep = R"(
SELECT jq.jq_pk FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk
 WHERE j.job_upload_fk = $1 AND jq.jq_type = $2 AND jq.jq_endtime IS NULL
 ORDER BY jq.jq_pk DESC LIMIT 1)";
constexpr const char* kNewestAgentPk =
    "SELECT max(agent_pk) FROM agent WHERE agent_name = $1 AND agent_enabled";
constexpr const char* kArsTable = "SELECT to_regclass($1) IS NOT NULL";
constexpr const char* kNewJob = "SELECT queue_job($1, $2, $3)";
constexpr const char* kJobUpload = "SELECT job_upload_fk FROM job WHERE job_pk = $1";
constexpr const char* kQueueStep =
    "SELECT queue_step($1, $2, $3, $4::int[], nullif($5, ''), NULL, NULL)";

std::string pg_array(const std::vector<long long>& pks) {
  return fmt::format("{{{}}}", fmt::join(pks, ","));
}

class Planner {
 public:
  Planner(agent::Database& db, const sched::Config& config, const QueueRequest& request)
      : db_(db), config_(config), request_(request) {}

  QueueResult run() {
    if (!db_.exec("SELECT 1 FROM upload WHERE upload_pk = $1", {std::to_string(request_.upload)})
             .rows())
      throw std::runtime_error(fmt::format("upload {} does not exist", request_.upload));
    db_.exec(kLockUpload, {std::to_string(request_.upload)});
    if (request_.job) check_job(*request_.job);
    for (const auto& name : request_.agents) plan(name);
    return std::move(result_);
  }

 private:
  void check_job(long long job) {
    auto r = db_.exec(kJobUpload, {std::to_string(job)});
    if (!r.rows()) throw std::runtime_error(fmt::format("job {} does not exist", job));
    if (r.get(0, 0) != std::to_string(request_.upload))
      throw std::runtime_error(
          fmt::format("job {} is not a job of upload {}", job, request_.upload));
    result_.job = job;
  }

  // The step the agent's dependents wait for (0 when there is none: skipped).
  long long plan(const std::string& name) {
    if (auto it = planned_.find(name); it != planned_.end()) return it->second;
    const sched::AgentType* type = config_.agent(name);
    if (!type)
      throw std::runtime_error(fmt::format("no agent '{}' in {}/agents", name, config_.conf_dir));
    if (!type->plugin) {
      // A plugin left out when the confs were loaded says why in a warning.
      for (const auto& w : config_.warnings)
        if (w.rfind(type->conf_path + ":", 0) == 0 && w.find("[plugin]") != std::string::npos)
          throw std::runtime_error(
              fmt::format("agent '{}' cannot be queued through its plugin: {}", name, w));
      throw std::runtime_error(fmt::format(
          "agent '{}' has no [plugin] group in {}: it can be queued with --args or --sql only",
          name, type->conf_path));
    }
    std::vector<long long> waits;
    for (const auto& dep : type->plugin->depends)
      if (long long pk = plan(dep)) waits.push_back(pk);
    PlannedStep step{name, PlannedStep::Action::kQueued, 0, ""};
    if (auto r = db_.exec(kOpenStep, {std::to_string(request_.upload), name}); r.rows()) {
      step.action = PlannedStep::Action::kReused;
      step.jq_pk = std::stoll(r.get(0, 0));
      step.why =
          fmt::format("step {} is queued for upload {} and not ended", step.jq_pk, request_.upload);
    } else if (auto done = finished_by(name)) {
      step.action = PlannedStep::Action::kSkipped;
      step.why =
          fmt::format("agent_pk {} finished upload {} ({}_ars)", *done, request_.upload, name);
    } else {
      step.jq_pk = queue(*type, waits);
    }
    result_.steps.push_back(step);
    planned_[name] = step.jq_pk;
    return step.jq_pk;
  }

  // The newest agent_pk of `name` when its ars says it finished the upload successfully.
  std::optional<long long> finished_by(const std::string& name) {
    auto pk = db_.exec(kNewestAgentPk, {name});
    if (pk.is_null(0, 0)) return std::nullopt;
    std::string table = name + "_ars";
    if (db_.exec(kArsTable, {db_.quote_identifier(table)}).get(0, 0) != "t") return std::nullopt;
    auto r = db_.exec(fmt::format("SELECT 1 FROM {} WHERE agent_fk = $1 AND upload_fk = $2 AND "
                                  "ars_success LIMIT 1",
                                  db_.quote_identifier(table)),
                      {pk.get(0, 0), std::to_string(request_.upload)});
    if (!r.rows()) return std::nullopt;
    return std::stoll(pk.get(0, 0));
  }

  long long queue(const sched::AgentType& type, const std::vector<long long>& waits) {
    if (!result_.job) {
      int priority = request_.priority.value_or(type.plugin->priority);
      std::string name =
          fmt::format("upload {}: {}", request_.upload, fmt::join(request_.agents, ", "));
      result_.job = std::stoll(
          db_.exec(kNewJob, {name, std::to_string(request_.upload), std::to_string(priority)})
              .get(0, 0));
    }
    std::string args = sched::expand(*type.plugin, {request_.upload, result_.job});
    return std::stoll(db_.exec(kQueueStep, {std::to_string(result_.job), type.name, args,
                                            pg_array(waits), type.plugin->runonpfile})
                          .get(0, 0));
  }

  agent::Database& db_;
  const sched::Config& config_;
  const QueueRequest& request_;
  QueueResult result_;
  std::map<std::string, long long> planned_;
};

}  // namespace

const char* action_name(PlannedStep::Action action) {
  switch (action) {
    case PlannedStep::Action::kQueued:
      return "queued";
    case PlannedStep::Action::kReused:
      return "reused";
    case PlannedStep::Action::kSkipped:
      return "skipped";
  }
  return "?";
}

QueueResult queue_for_upload(agent::Database& db, const sched::Config& config,
                             const QueueRequest& request) {
  return Planner(db, config, request).run();
}

}  // namespace jobctl
