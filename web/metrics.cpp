// /metrics in Prometheus' text format (names prefixed jobline_): steps by state and type, items
// processed, queue wait and step durations (sums and counts: summaries), from one query; agents
// running per host from the scheduler's `load` and per type from its `status`.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "control_async.hpp"
#include "server.hpp"
#include "step_state.hpp"

namespace web {
namespace {

// A label value in the exposition format: backslash, quote and newline escaped.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// The agents running per host and per type from the scheduler's replies to `load` and
// `status`, and whether it answered (with its error as a comment when it did not).
std::string agent_metrics(const jobctl::ControlResult& c) {
  std::string hosts, types;
  if (c.ok()) {
    for (const auto& line : c.replies[0]) {
      std::istringstream words(line);
      std::string host, running;
      for (std::string w; words >> w;) {
        if (w.rfind("host:", 0) == 0) host = w.substr(5);
        if (w.rfind("running:", 0) == 0) running = w.substr(8);
      }
      if (!host.empty())
        hosts += fmt::format("jobline_agents_running{{host=\"{}\"}} {}\n", label(host), running);
    }
    std::map<std::string, long long> per_type;
    for (const auto& line : c.replies[1]) {
      // job:<jq> status:JOB_<STATE> type:<type>, priority:<p> running:<n> ...
      std::istringstream words(line);
      std::string type;
      long long running = 0;
      for (std::string w; words >> w;) {
        if (w.rfind("type:", 0) == 0) type = w.substr(5, w.size() - 5 - (w.back() == ',' ? 1 : 0));
        if (w.rfind("running:", 0) == 0) running = std::atoll(w.c_str() + 8);
      }
      if (!type.empty()) per_type[type] += running;
    }
    for (const auto& [t, n] : per_type)
      types += fmt::format("jobline_agents_running_by_type{{type=\"{}\"}} {}\n", label(t), n);
  }
  std::string out =
      "# HELP jobline_agents_running Agents running on each host.\n"
      "# TYPE jobline_agents_running gauge\n" +
      hosts +
      "# HELP jobline_agents_running_by_type Agents running per agent type.\n"
      "# TYPE jobline_agents_running_by_type gauge\n" +
      types +
      "# HELP jobline_scheduler_up Whether the scheduler's control interface answered.\n"
      "# TYPE jobline_scheduler_up gauge\n";
  if (!c.ok()) {
    std::string why = c.error;
    std::replace(why.begin(), why.end(), '\n', ' ');
    out += "# jobline_scheduler_up 0: " + why + "\n";
  }
  return out + fmt::format("jobline_scheduler_up {}\n", c.ok() ? 1 : 0);
}

}  // namespace

void page_metrics(App& app, const RequestPtr& req) {
  const std::string sql = std::string("SELECT jq.jq_type, ") + jobctl::kStepStateSql + R"( AS state,
 count(*), sum(jq.jq_itemsprocessed),
 coalesce(sum(extract(epoch FROM jq.jq_starttime - j.job_queued)) FILTER (WHERE jq.jq_starttime IS NOT NULL), 0)::float8,
 count(*) FILTER (WHERE jq.jq_starttime IS NOT NULL),
 coalesce(sum(extract(epoch FROM jq.jq_endtime - jq.jq_starttime)) FILTER (WHERE jq.jq_endtime IS NOT NULL AND jq.jq_starttime IS NOT NULL), 0)::float8,
 count(*) FILTER (WHERE jq.jq_endtime IS NOT NULL AND jq.jq_starttime IS NOT NULL)
 FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk GROUP BY 1, 2 ORDER BY 1, 2)";
  app.db->query(sql, {}, [&app, req](const sched::QueryResult& r) {
    if (!r.ok())
      return req->send(503, "text/plain; charset=utf-8", "database: " + r.error() + "\n");
    std::string steps, items, wait_sum, wait_count, dur_sum, dur_count;
    std::map<std::string, std::array<double, 5>> by_type;  // items, wait s, n, dur s, n
    for (int i = 0; i < r.rows(); ++i) {
      std::string type = label(r.get(i, 0));
      steps += fmt::format("jobline_steps{{type=\"{}\",state=\"{}\"}} {}\n", type, r.get(i, 1),
                           r.get_long(i, 2));
      auto& t = by_type[type];
      t[0] += static_cast<double>(r.get_long(i, 3));
      t[1] += std::strtod(r.get(i, 4).c_str(), nullptr);
      t[2] += static_cast<double>(r.get_long(i, 5));
      t[3] += std::strtod(r.get(i, 6).c_str(), nullptr);
      t[4] += static_cast<double>(r.get_long(i, 7));
    }
    for (const auto& [type, t] : by_type) {
      items += fmt::format("jobline_items_processed_total{{type=\"{}\"}} {}\n", type, t[0]);
      wait_sum += fmt::format("jobline_queue_wait_seconds_sum{{type=\"{}\"}} {}\n", type, t[1]);
      wait_count += fmt::format("jobline_queue_wait_seconds_count{{type=\"{}\"}} {}\n", type, t[2]);
      dur_sum += fmt::format("jobline_step_duration_seconds_sum{{type=\"{}\"}} {}\n", type, t[3]);
      dur_count +=
          fmt::format("jobline_step_duration_seconds_count{{type=\"{}\"}} {}\n", type, t[4]);
    }
    std::string out =
        "# HELP jobline_steps Steps in the database by agent type and state.\n"
        "# TYPE jobline_steps gauge\n" +
        steps +
        "# HELP jobline_items_processed_total Items processed by the steps of each type.\n"
        "# TYPE jobline_items_processed_total counter\n" +
        items +
        "# HELP jobline_queue_wait_seconds From a job's queueing to its steps' start.\n"
        "# TYPE jobline_queue_wait_seconds summary\n" +
        wait_sum + wait_count +
        "# HELP jobline_step_duration_seconds From a step's start to its end.\n"
        "# TYPE jobline_step_duration_seconds summary\n" +
        dur_sum + dur_count;
    // The agents from the scheduler, on the loop; the page waits for them (or the timeout).
    jobctl::control_async(app.config, {"load", "status"}, kControlTimeout,
                          [req, out](const jobctl::ControlResult& c) {
                            req->send(200, "text/plain; version=0.0.4; charset=utf-8",
                                      out + agent_metrics(c));
                          });
  });
}

}  // namespace web
