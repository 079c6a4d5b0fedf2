// The Scheduler's reading of the job queue (SPEC §4): the ready-step poll and how many steps it
// keeps waiting in memory, overall and per type and host. The dispatcher that starts them is in
// scheduler.cpp.
#include <algorithm>
#include <optional>

#include "agent/db.hpp"
#include "queue_sql.hpp"
#include "scheduler.hpp"

namespace sched {

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
  std::map<Group, std::size_t> rooms = group_rooms();
  Params params{pks_in_memory(), std::to_string(limit)};
  if (!rooms.empty()) {  // read group by group, each only as far as it has room
    std::string types = "{", hosts = "{", most = "{";
    for (const auto& [group, room] : rooms) {
      agent::append_array_element(types, group.first);
      agent::append_array_element(hosts, group.second);
      most += (most.size() > 1 ? "," : "") + std::to_string(room);
    }
    for (auto* array : {&types, &hosts, &most}) params.push_back(*array + "}");
  }
  bool by_group = !rooms.empty();
  db_.query(by_group ? sql::kReadyStepsByGroup : sql::kReadySteps, std::move(params),
            [this, limit, by_group](const QueryResult& r) {
              more_ready_ = r.ok() && (by_group || static_cast<std::size_t>(r.rows()) >= limit);
              on_ready_steps(r, by_group);
            });
}

// How many ready steps a poll asks for, and how many may wait in memory while every slot is
// busy: enough to refill each slot a few times without reading the queue.
std::size_t Scheduler::poll_size() const {
  return slots() * 4 + 16;
}

// Whether a step that ranks, by priority then age, after the first poll_size() waiting ones
// could start now: some host has room and no EXCLUSIVE step holds the queue (while one runs
// nothing else starts; while one waits, nothing that ranks after it).
bool Scheduler::room_beyond_rank() const {
  if (!room_anywhere()) return false;
  const auto& types = config_->agents;
  if (std::none_of(types.begin(), types.end(),
                   [](const auto& t) { return t.second.has(kExclusive); }))
    return true;
  return std::none_of(jobs_.begin(), jobs_.end(), [this](const auto& j) {
    const AgentType* t = config_->agent(j.second->row.type);
    return t && t->has(kExclusive) && j.second->active() && !j.second->ending;
  });
}

// How many steps of one group (a type and a jq_host, or none) may wait in memory: as many as
// the group has free slots (dispatch starts them) plus enough to refill its slots a few times,
// as poll_size() does for all slots. Its slots: those of the hosts its steps may run on (the
// jq_host; else every host, only local ones for a LOCAL type), at most the type's max.
std::size_t Scheduler::group_cap(const AgentType& type,
                                 const std::optional<std::string>& host) const {
  std::size_t slots = 0, free = 0;
  for (const auto& h : config_->hosts) {
    if ((type.has(kLocal) && !h.local()) || (host && h.name != *host)) continue;
    int max = std::max(h.max, 0);
    slots += static_cast<std::size_t>(max);
    free += static_cast<std::size_t>(std::max(max - running_on(h.name), 0));
  }
  if (type.max >= 0) {
    slots = std::min(slots, static_cast<std::size_t>(type.max));
    free = std::min(free, static_cast<std::size_t>(std::max(type.max - running_of(type.name), 0)));
  }
  return std::min(poll_size(), slots * 4 + 16) + free;
}

// How many more steps each group with steps waiting in memory may take: group_cap() less those
// waiting, at least one (a step that ranks before them still comes and runs next). A poll passes
// these to kReadyStepsByGroup, which reads each group of the queue only that far, so that the
// steps behind a group that cannot start more (a type at its max, a host that is full or down)
// are reached without reading through its backlog. None while no step beyond the first
// poll_size() could start (on_ready_steps then takes none that ranks after them, and the plain
// query stops at its LIMIT), and none while no step waits in memory (the plain query's rows
// then show which groups have more than they may take: on_ready_steps polls again).
std::map<Scheduler::Group, std::size_t> Scheduler::group_rooms() const {
  std::map<Group, std::size_t> rooms;  // the steps waiting, then the room left
  if (!room_beyond_rank()) return rooms;
  for (const auto& [pk, job] : jobs_)
    if (job->waiting()) ++rooms[{job->row.type, job->row.host}];
  for (auto& [group, room] : rooms) {
    const AgentType* t = config_->agent(group.first);
    std::size_t cap = t ? group_cap(*t, group.second) : 0;
    room = cap > room + 1 ? cap - room : 1;
  }
  return rooms;
}

void Scheduler::on_ready_steps(const QueryResult& r, bool by_group) {
  poll_running_ = false;
  if (!r.ok()) {
    log::error("cannot read the job queue: {}", r.error());
  } else if (!closing_) {
    // While no step beyond the first poll_size() waiting ones could start (every slot busy, or
    // an EXCLUSIVE step holds the queue), the steps waiting in memory are bounded (a queue of
    // 100,000 is read a poll at a time, not held): a row is taken only while it ranks, by
    // priority then age, among the first poll_size() waiting steps. The rows come in that
    // order, so the first that does not rank ends the reading and the rest stay in the queue
    // (more_ready_): a new step of a higher priority still ranks. Otherwise rows are read on to
    // find a step that can take a free slot; each is taken only while it ranks among the first
    // group_cap() waiting steps of its group, its type and jq_host, so that steps that cannot
    // start (a type at its max, a host that is down or full) are not read in without end. The
    // polls after that read each group only as far as it has room (group_rooms()), so that the
    // steps behind such a group are reached; when the plain query met one (its LIMIT may have
    // been filled by that group alone), that poll follows at once.
    bool bounded = !room_beyond_rank();
    using Rank = std::pair<int, long long>;  // (priority, jq_pk)
    auto ahead_of = [](const std::vector<Rank>& steps, const Rank& row) {
      return static_cast<std::size_t>(std::count_if(steps.begin(), steps.end(), [&](const Rank& w) {
        return w.first > row.first || (w.first == row.first && w.second < row.second);
      }));
    };
    std::vector<Rank> waiting;
    std::map<Group, std::vector<Rank>> waiting_of;
    for (const auto& [pk, job] : jobs_) {
      if (!job->waiting()) continue;
      if (bounded) waiting.emplace_back(job->row.priority, pk);
      waiting_of[{job->row.type, job->row.host}].emplace_back(job->row.priority, pk);
    }
    std::map<Group, std::optional<std::size_t>> cap_of;  // group_cap(), once per group
    auto cap = [&](const Group& group) -> const std::optional<std::size_t>& {
      auto it = cap_of.find(group);
      if (it != cap_of.end()) return it->second;
      const AgentType* t = config_->agent(group.first);
      return cap_of[group] = t ? std::optional(group_cap(*t, group.second)) : std::nullopt;
    };
    std::size_t taken = 0;
    bool group_full = false;
    for (int i = 0; i < r.rows(); ++i) {
      StepRow row;
      row.jq_pk = r.get_long(i, 0);
      if (jobs_.count(row.jq_pk)) continue;
      row.priority = static_cast<int>(r.get_long(i, 9));
      row.type = r.get(i, 2);
      auto opt = [&](int c) -> std::optional<std::string> {
        if (r.is_null(i, c)) return std::nullopt;
        return r.get(i, c);
      };
      row.host = opt(5);
      Rank rank{row.priority, row.jq_pk};
      Group group{row.type, row.host};
      if (const auto& most = cap(group)) {  // (an unknown type fails at once: no cap)
        auto& same = waiting_of[group];
        if (ahead_of(same, rank) >= *most) {
          more_ready_ = true;
          group_full = true;
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
      row.args = opt(3);
      row.runonpfile = opt(4);
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
    if (group_full && !by_group && !bounded) poll_again_ = true;
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
