// Queueing agents for an upload through their plugins (plugin.hpp): the agents asked for and,
// recursively, what they depend on, in ONE transaction. A step already queued for the upload
// and not ended is reused; an agent whose ars table says its newest agent_pk finished the
// upload is skipped; the rest are queued, each waiting for the steps of its dependencies.
// Used by `jobctl queue`, `jobctl upload` and the web page's upload form.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/db.hpp"
#include "config.hpp"

namespace jobctl {

struct PlannedStep {
  enum class Action { kQueued, kReused, kSkipped };
  std::string agent;
  Action action = Action::kQueued;
  long long jq_pk = 0;  // 0 when skipped
  std::string why;      // for reused and skipped steps
};
const char* action_name(PlannedStep::Action action);  // "queued", "reused", "skipped"

struct QueueRequest {
  std::vector<std::string> agents;  // each must have a plugin
  long long upload = 0;
  std::optional<long long> job;  // add to this job; else a new job for the upload
  std::optional<int> priority;   // the new job's priority; else the first agent's plugin's
};

struct QueueResult {
  long long job = 0;  // the job the new steps went into (0 when nothing was queued)
  std::vector<PlannedStep> steps;
};

// Runs inside the caller's open transaction (`db` in BEGIN); throws std::runtime_error with a
// message naming the agent, upload or job when something is wrong.
QueueResult queue_for_upload(agent::Database& db, const sched::Config& config,
                             const QueueRequest& request);

// Runs `body` in a transaction of its own on `db`, commits, and returns what `body` returned.
// A transaction that PostgreSQL aborted to break a deadlock or a serialization conflict
// (SQLSTATE 40P01, 40001: a dependency added while its prerequisite fails can meet one, see
// sql/migrations/007_dependency_locks.sql) is rolled back and run again, up to kAttempts times
// in all; so `body` must do nothing outside the database that a second run would repeat.
// Every other error goes to the caller, the transaction rolled back.
template <class Body>
auto in_transaction(agent::Database& db, Body&& body) -> decltype(body()) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    try {
      agent::Transaction tx(db);
      auto result = body();
      tx.commit();
      return result;
    } catch (const agent::Error& e) {
      bool conflict = e.sqlstate() == "40P01" || e.sqlstate() == "40001";
      if (!conflict || attempt == kAttempts) throw;
    }
  }
}

}  // namespace jobctl
