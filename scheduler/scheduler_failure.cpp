// The dispatcher's side of agent deaths during database outages: which deaths count toward
// max_failures (docs/scheduler.md, "When the database goes away").
#include "scheduler.hpp"

namespace sched {

// An agent died (not by FATAL): does it count toward max_failures? Not when the database went
// away during its life — its own session was cut as well (a restart, an outage) and it failed
// for that, not for its step. The scheduler may hear of the agent's death before it notices
// its own connection's loss, so a death that looks innocent is confirmed by a round trip on
// the queue connection: if that connection is lost first, the statement is sent again on the
// next one, the generation has moved on, and the death does not count either.
void Scheduler::count_failure(Job& job, const Agent& agent, const std::string& reason,
                              const std::string& said) {
  auto started = started_in_.find(&agent);
  std::uint64_t generation = started == started_in_.end() ? db_generation_ : started->second;
  long long pk = job.row.jq_pk;
  auto forgive = [pk](Job& j, const std::string& why) {
    log::warning("JOB[{}]: agent failure not counted: {}", pk, why);
    j.log.write(log::Level::kWarning, "agent failure not counted: " + why);
  };
  if (!db_.connected() || generation != db_generation_) {
    forgive(job, "the database connection was lost while it ran");
    return;
  }
  ++job.unconfirmed;
  db_.query("SELECT 1", {}, [this, pk, generation, reason, said, forgive](const QueryResult& r) {
    Job* j = find(pk);
    if (!j) return;
    --j->unconfirmed;
    if (!j->ending) {
      if (!r.ok() || generation != db_generation_) {
        forgive(*j, "the database connection was lost as it failed");
      } else if (++j->failures >= config_->max_failures) {
        end_job(*j, false, fmt::format("{} (agents failed {} times){}", reason, j->failures, said));
      }
      if (!j->ending) maybe_complete(*j);  // held back while this death was unconfirmed
    }
    settle(pk);
    request_dispatch();
  });
}

}  // namespace sched
