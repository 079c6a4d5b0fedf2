// StepView: one jobqueue row as the pages show it (state, items done/known, percent, rate,
// ETA), read by one SQL select list (kStepColumns, `jq` aliases jobqueue), rendered as HTML
// cells (jobs and job pages) and as the JSON of a Server-Sent Event (event_stream). The state
// is jobctl's (step_state.hpp), computed by PostgreSQL.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "database.hpp"

namespace web {

// The select list; the columns StepView::from reads, in this order.
extern const std::string kStepColumns;

struct StepView {
  long long jq = 0, job = 0;
  std::string type, state;
  long long items = 0;
  std::optional<long long> known;  // jq_itemsknown
  std::optional<double> secs;      // since start (to the end when ended)
  std::string start, end, endtext, host, log, depends;

  // Row `row` of a result whose first columns are kStepColumns from `col`.
  static StepView from(const sched::QueryResult& r, int row, int col = 0);
  int percent() const;             // 100 when completed; done/known when known; else 0
  double rate() const;             // items per second, 0 when unknown
  std::string eta() const;         // "" when it cannot be told
  std::string items_text() const;  // "120/300" or "120"
  nlohmann::json json() const;
  // The live cells: state, progress bar, items, rate, ETA (classes app.js updates).
  std::string live_cells() const;
};

}  // namespace web
