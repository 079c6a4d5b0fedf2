// The Scheduler's reading of the job queue (SPEC §4): the ready-step poll and how many steps it
// keeps waiting in memory, overall and per type. The dispatcher that starts them is in
// scheduler.cpp.
#include <algorithm>
#include <optional>

#include "agent/db.hpp"
#include "queue_sql.hpp"
#include "scheduler.hpp"

namespace sched {

namespace {
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) agent::append_array_element(out, item);
  return out + "}";
}
}  // namespace

std::string Scheduler::pks_in_memory() const {
  std::string out = "{";
  for (const auto& [pk, job] : jobs_) {
    if (out.size() > 1) out += ',';
    out += std::to_string(pk);
  }
  return out + "}";
}

void Scheduler::request_poll() {
  if (closing_) return;
  if (poll_running_) {
    poll_again_ = true;
    return;
  }
  poll_now();
}

void Scheduler::poll_now() {
  top_up_.reset();
  poll_running_ = true;
  poll_again_ = false;
  poll_timer_ = Source::timer(config_->poll_interval, [this] {
    ended_by_us_.clear();  // (an end whose NOTIFY never came: nothing is lost by forgetting)
    request_poll();
  });
  std::size_t limit = poll_size();
  std::vector<FullType> full = full_types();
  std::vector<std::string> types;
  std::string priorities = "{", pks = "{";
  for (const auto& f : full) {
    types.push_back(f.type);
    priorities += (priorities.size() > 1 ? "," : "") + std::to_string(f.priority);
    pks += (pks.size() > 1 ? "," : "") + std::to_string(f.jq_pk);
  }
  db_.query(
      sql::kReadySteps,
      {pks_in_memory(), std::to_string(limit), text_array(types), priorities + "}", pks + "}"},
      [this, limit, some_left_out = !full.empty()](const QueryResult& r) {
        more_ready_ = r.ok() && (some_left_out || static_cast<std::size_t>(r.rows()) >= limit);
        on_ready_steps(r);
      });
}

// How many ready steps a poll asks for, and how many may wait in memory while every slot is
// busy: enough to refill each slot a few times without reading the queue.
std::size_t Scheduler::poll_size() const {
  return slots() * 4 + 16;
}

// How many steps of a type with a max may wait in memory: as many as its free slots (dispatch
// starts them) plus enough to refill its slots a few times, as poll_size() does for all slots.
// No bound of its own for a type without a max.
std::optional<std::size_t> Scheduler::type_cap(const AgentType& type) const {
  if (type.max < 0) return std::nullopt;
  auto max = static_cast<std::size_t>(type.max);
  auto running = static_cast<std::size_t>(running_of(type.name));
  return std::min(poll_size(), max * 4 + 16) + (running < max ? max - running : 0);
}

// Types with type_cap() of their steps waiting in memory already, each with the last of the
// first type_cap() of them by priority, then age: the poll leaves out their steps that rank
// after it, so that it reaches the steps behind them that could start now, and still brings
// one that ranks before it.
std::vector<Scheduler::FullType> Scheduler::full_types() const {
  std::map<std::string, std::vector<std::pair<int, long long>>> waiting;  // (priority, jq_pk)
  for (const auto& [pk, job] : jobs_)
    if (job->waiting()) waiting[job->row.type].emplace_back(job->row.priority, pk);
  std::vector<FullType> full;
  for (auto& [name, steps] : waiting) {
    const AgentType* t = config_->agent(name);
    auto cap = t ? type_cap(*t) : std::nullopt;
    if (!cap || *cap == 0 || steps.size() < *cap) continue;
    auto last = steps.begin() + static_cast<std::ptrdiff_t>(*cap - 1);
    std::nth_element(steps.begin(), last, steps.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    full.push_back({name, last->first, last->second});
  }
  return full;
}

void Scheduler::on_ready_steps(const QueryResult& r) {
  poll_running_ = false;
  if (!r.ok()) {
    log::error("cannot read the job queue: {}", r.error());
  } else if (!closing_) {
    // While every slot is busy nothing starts before a step ends, so the steps waiting in
    // memory are bounded (a queue of 100,000 is read a poll at a time, not held): a row is
    // taken only while it ranks, by priority then age, among the first poll_size() waiting
    // steps. The rows come in that order, so the first that does not rank ends the reading and
    // the rest stay in the queue (more_ready_): a new step of a higher priority still ranks.
    // With a free slot, rows are read on to find a step that can take it; those of a type
    // with a max are taken only while they rank among the first type_cap() waiting steps of
    // their type (the next poll leaves the rest out: full_types()). A step pinned to a host
    // that is down is still taken each time.
    bool bounded = !room_anywhere();
    using Rank = std::pair<int, long long>;  // (priority, jq_pk)
    auto ahead_of = [](const std::vector<Rank>& steps, const Rank& row) {
      return static_cast<std::size_t>(std::count_if(steps.begin(), steps.end(), [&](const Rank& w) {
        return w.first > row.first || (w.first == row.first && w.second < row.second);
      }));
    };
    std::vector<Rank> waiting;
    std::map<std::string, std::vector<Rank>> waiting_of;  // per type
    for (const auto& [pk, job] : jobs_) {
      if (!job->waiting()) continue;
      if (bounded) waiting.emplace_back(job->row.priority, pk);
      waiting_of[job->row.type].emplace_back(job->row.priority, pk);
    }
    std::map<std::string, std::optional<std::size_t>> cap_of;  // type_cap(), once per type
    auto cap = [&](const std::string& type) -> const std::optional<std::size_t>& {
      auto it = cap_of.find(type);
      if (it != cap_of.end()) return it->second;
      const AgentType* t = config_->agent(type);
      return cap_of[type] = t ? type_cap(*t) : std::nullopt;
    };
    std::size_t taken = 0;
    for (int i = 0; i < r.rows(); ++i) {
      StepRow row;
      row.jq_pk = r.get_long(i, 0);
      if (jobs_.count(row.jq_pk)) continue;
      row.priority = static_cast<int>(r.get_long(i, 9));
      row.type = r.get(i, 2);
      Rank rank{row.priority, row.jq_pk};
      if (const auto& most = cap(row.type)) {
        auto& same = waiting_of[row.type];
        if (ahead_of(same, rank) >= *most) {
          more_ready_ = true;
          continue;
        }
        same.push_back(rank);
      }
      if (bounded && taken + ahead_of(waiting, rank) >= poll_size()) {
        more_ready_ = true;
        break;
      }
      ++taken;
      row.job_pk = r.get_long(i, 1);
      auto opt = [&](int c) -> std::optional<std::string> {
        if (r.is_null(i, c)) return std::nullopt;
        return r.get(i, c);
      };
      row.args = opt(3);
      row.runonpfile = opt(4);
      row.host = opt(5);
      row.cmd_args = opt(6);
      row.user = r.get_long(i, 7);
      row.group = r.get_long(i, 8);
      auto source = make_source(row);
      log::StepLog step_log(config_->log_dir, row.jq_pk, row.type);
      log::note("JOB[{}] taken from the queue: type '{}', priority {}", row.jq_pk, row.type,
                row.priority);
      long long pk = row.jq_pk;
      jobs_.emplace(pk,
                    std::make_unique<Job>(std::move(row), std::move(source), std::move(step_log)));
    }
  }
  if (poll_again_) request_poll();
  request_dispatch();
}

// Steps in memory that no agent runs yet and that may start (not paused, not ending).
std::size_t Scheduler::waiting_in_memory() const {
  return static_cast<std::size_t>(
      std::count_if(jobs_.begin(), jobs_.end(), [](const auto& j) { return j.second->waiting(); }));
}

std::size_t Scheduler::slots() const {
  std::size_t n = 0;
  for (const auto& h : config_->hosts) n += static_cast<std::size_t>(std::max(h.max, 0));
  return std::max<std::size_t>(n, 1);
}

}  // namespace sched
