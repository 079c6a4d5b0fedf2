// Job: one jobqueue row (a "step") the scheduler has taken from the database, with its data
// source, its agents' failures and its counters. Owned by the Scheduler; it lives until its
// end is written and its last agent is gone, so agents may point at its source and log.
//
//   Queued --first OK of an agent--> Started --data done, agents exited--> Completed
//   Queued/Started --pause--> Paused --restart--> (back)
//   any --kill / max_failures / FATAL / bad input--> Failed
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data_source.hpp"
#include "log.hpp"

namespace sched {

enum class JobState { Queued, Started, Paused, Completed, Failed };
std::string_view job_state_name(JobState state);  // "JOB_CHECKEDOUT", ...

// The columns of a ready step, as the checkout query returns them.
struct StepRow {
  long long jq_pk = 0;
  long long job_pk = 0;
  std::string type;
  std::optional<std::string> args;
  std::optional<std::string> runonpfile;
  std::optional<std::string> host;
  std::optional<std::string> cmd_args;
  long long user = 0, group = 0;
  int priority = 0;
  bool was_started = false;  // paused or restarted before (jq_starttime was set)
};

struct Job {
  Job(StepRow r, std::unique_ptr<DataSource> d, log::StepLog l)
      : row(std::move(r)), data(std::move(d)), log(std::move(l)) {}

  StepRow row;
  JobState state = JobState::Queued;
  JobState before_pause = JobState::Queued;
  std::unique_ptr<DataSource> data;
  log::StepLog log;
  int agents = 0;           // live agents of this job
  int failures = 0;         // agent deaths so far (those that count toward max_failures)
  int unconfirmed = 0;      // deaths waiting for the database to say whether they count
  std::string end_message;  // jq_endtext when it fails
  std::uint64_t items = 0, items_written = 0;
  std::vector<std::pair<std::string, std::string>> subs;  // JQ_SUBS, in order
  bool ending = false;                                    // end decided; waiting for agents to go
  bool checked = false;  // its row passed the dispatcher's checks (done again after a reload)

  bool active() const { return state == JobState::Queued || state == JobState::Started; }
  // Not started, may start: no agent yet, not paused, no end decided.
  bool waiting() const { return agents == 0 && state == JobState::Queued && !ending; }
};

}  // namespace sched
