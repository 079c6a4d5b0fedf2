// Waiting for a step to end without disturbing what is measured: SchedulerHarness::wait_ended
// polls every 10 ms with a new connection each time, which on a 2-core machine takes CPU from
// the scheduler and PostgreSQL during a long step; benchmarks poll every 250 ms instead.
#pragma once

#include <unistd.h>

#include <chrono>

#include "scheduler_harness.hpp"

namespace bench {

inline bool wait_ended(test::SchedulerHarness& h, long long jq_pk,
                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (h.column(jq_pk, "jq_endtime").empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(250'000);
  }
  return true;
}

// Seconds from the step's start to its end, by the database's clock.
inline double step_seconds(test::SchedulerHarness& h, long long jq_pk) {
  return std::stod(h.db().query(
      "SELECT extract(epoch FROM jq_endtime - jq_starttime) FROM jobqueue WHERE jq_pk = " +
      std::to_string(jq_pk)));
}

}  // namespace bench
