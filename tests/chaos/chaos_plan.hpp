// The chaos test's plan (tests/chaos/chaos_test.cpp), made from its seed: the workload (steps,
// their items and dependencies) and the chaos events, each due at a fraction of the work done,
// so that the events land during the work however fast or slow the machine is.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace chaos {

// Sizes, from the environment (CHAOS_FULL=1 for the full size; each figure may be set alone).
struct Sizes {
  std::uint64_t seed = 0;
  int items = 2000;
  int agent_kills = 20;
  int scheduler_kills = 2;
  int pg_restarts = 2;  // one of them an outage
  int outage_s = 3;
  bool full = false;

  static Sizes from_env() {
    Sizes s;
    auto num = [](const char* name, long long fallback) {
      const char* v = std::getenv(name);
      return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
    };
    s.full = num("CHAOS_FULL", 0) != 0;
    if (s.full) {
      s.items = 20000;
      s.agent_kills = 200;
      s.scheduler_kills = 5;
      s.pg_restarts = 3;
      s.outage_s = 10;
    }
    s.items = static_cast<int>(num("CHAOS_ITEMS", s.items));
    s.agent_kills = static_cast<int>(num("CHAOS_AGENT_KILLS", s.agent_kills));
    s.scheduler_kills = static_cast<int>(num("CHAOS_SCHEDULER_KILLS", s.scheduler_kills));
    s.pg_restarts = static_cast<int>(num("CHAOS_PG_RESTARTS", s.pg_restarts));
    s.outage_s = static_cast<int>(num("CHAOS_OUTAGE_S", s.outage_s));
    const char* seed = std::getenv("CHAOS_SEED");
    s.seed = seed && *seed ? std::strtoull(seed, nullptr, 10) : std::random_device{}();
    return s;
  }
};

// One step of the workload. SQL-fed steps read their items from chaos_item (the FOSSology
// pattern: the items without results yet, a batch at a time); a plain step's item is jq_args.
struct StepPlan {
  int index = 0;
  std::string type;  // chaos_one (1 item per transaction) or chaos_group (8, window 16)
  bool sql = false;
  int items = 1;
  int priority = 0;
  std::vector<int> deps;  // indexes of earlier steps

  std::string item(int k) const {
    return sql ? fmt::format("s{}-{}", index, k) : fmt::format("p{}", index);
  }
  std::string query() const {
    return fmt::format(
        "SELECT item FROM chaos_item WHERE step = {} AND NOT EXISTS (SELECT 1 FROM chaos_result "
        "r WHERE r.item = chaos_item.item) ORDER BY item LIMIT 250",
        index);
  }
};

// Groups of steps: A (SQL-fed) -> B (SQL-fed) -> 0-2 plain steps after A or B, and maybe a
// plain step with no prerequisite; until the items reach `total`.
inline std::vector<StepPlan> make_workload(std::mt19937_64& rng, int total) {
  std::vector<StepPlan> steps;
  int items = 0;
  // Items of an SQL-fed step, on average: about 20 groups in the short form, 30 at full size.
  const int mean = std::max(50, total / 60);
  std::uniform_int_distribution<int> size(mean / 2, mean * 3 / 2), plain(0, 2), prio(0, 2),
      coin(0, 1);
  while (items < total) {
    auto add = [&](std::string type, bool sql, int n, std::vector<int> deps) {
      StepPlan s;
      s.index = static_cast<int>(steps.size());
      s.type = std::move(type);
      s.sql = sql;
      s.items = sql ? n : 1;
      s.priority = prio(rng);
      s.deps = std::move(deps);
      items += s.items;
      steps.push_back(std::move(s));
      return steps.back().index;
    };
    int a = add(coin(rng) ? "chaos_group" : "chaos_one", true, size(rng), {});
    int b = add(coin(rng) ? "chaos_group" : "chaos_one", true, size(rng), {a});
    for (int k = plain(rng); k > 0; --k) add("chaos_one", false, 1, {coin(rng) ? a : b});
    if (coin(rng)) add("chaos_one", false, 1, {});
  }
  return steps;
}

enum class EventKind {
  AgentKill,
  SchedulerKill,
  FinalSchedulerKill,
  PgRestart,
  PgOutage,
  PgOutageWithSchedulerKill
};

struct Event {
  double at = 0;  // due when this fraction of the result rows is written
  EventKind kind = EventKind::AgentKill;
};

// Agent kills spread over 2-90 % of the work; scheduler kills over 8-70 %, the last of them
// (the final instance: everything paused first, so that its descriptors are counted before it
// runs anything) at 70 %; PostgreSQL restarts over 15-65 % and one after the final scheduler
// kill at 80 %, one of the earlier ones (or the only one) an outage, during which the scheduler
// is killed and started again when there are two scheduler kills or more.
inline std::vector<Event> make_events(std::mt19937_64& rng, const Sizes& s) {
  std::vector<Event> ev;
  std::uniform_real_distribution<double> kill_at(0.02, 0.9), jitter(-0.02, 0.02);
  for (int i = 0; i < s.agent_kills; ++i) ev.push_back({kill_at(rng), EventKind::AgentKill});
  // With an outage and two or more scheduler kills, one kill happens during the outage (the
  // scheduler starts again while PostgreSQL is down: --db-wait, then recovery).
  const bool kill_in_outage = s.pg_restarts > 0 && s.scheduler_kills > 1;
  for (int i = kill_in_outage ? 1 : 0; i < s.scheduler_kills; ++i) {
    bool last = i + 1 == s.scheduler_kills;
    double at = last ? 0.7 : 0.08 + 0.55 * (i + 0.5) / s.scheduler_kills + jitter(rng);
    ev.push_back({at, last ? EventKind::FinalSchedulerKill : EventKind::SchedulerKill});
  }
  int early = s.pg_restarts > 1 ? s.pg_restarts - 1 : s.pg_restarts;
  int outage = early > 0 ? static_cast<int>(rng() % static_cast<std::uint64_t>(early)) : -1;
  for (int i = 0; i < s.pg_restarts; ++i) {
    bool late = i == early;
    double at = late ? 0.8 + jitter(rng) : 0.15 + 0.5 * (i + 0.5) / early + jitter(rng);
    EventKind kind = i != outage      ? EventKind::PgRestart
                     : kill_in_outage ? EventKind::PgOutageWithSchedulerKill
                                      : EventKind::PgOutage;
    ev.push_back({at, kind});
  }
  std::stable_sort(ev.begin(), ev.end(),
                   [](const Event& a, const Event& b) { return a.at < b.at; });
  return ev;
}

}  // namespace chaos
