// StepView; see step_view.hpp.
#include "step_view.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "html.hpp"
#include "step_state.hpp"

namespace web {

const std::string kStepColumns =
    std::string("jq.jq_pk, jq.jq_job_fk, jq.jq_type, ") + jobctl::kStepStateSql + R"( AS state,
 jq.jq_itemsprocessed, jq.jq_itemsknown,
 extract(epoch FROM coalesce(jq.jq_endtime, now()) - jq.jq_starttime)::float8,
 to_char(jq.jq_starttime, 'YYYY-MM-DD HH24:MI:SS'), to_char(jq.jq_endtime, 'YYYY-MM-DD HH24:MI:SS'),
 jq.jq_endtext, jq.jq_host, jq.jq_log,
 (SELECT string_agg(d.jdep_jq_depends_fk::text, ' ' ORDER BY d.jdep_jq_depends_fk)
    FROM jobdepends d WHERE d.jdep_jq_fk = jq.jq_pk))";

StepView StepView::from(const sched::QueryResult& r, int row, int c) {
  StepView s;
  s.jq = r.get_long(row, c + 0);
  s.job = r.get_long(row, c + 1);
  s.type = r.get(row, c + 2);
  s.state = r.get(row, c + 3);
  s.items = r.get_long(row, c + 4);
  if (!r.is_null(row, c + 5)) s.known = r.get_long(row, c + 5);
  if (!r.is_null(row, c + 6)) s.secs = std::strtod(r.get(row, c + 6).c_str(), nullptr);
  s.start = r.get(row, c + 7);
  s.end = r.get(row, c + 8);
  s.endtext = r.get(row, c + 9);
  s.host = r.get(row, c + 10);
  s.log = r.get(row, c + 11);
  s.depends = r.get(row, c + 12);
  return s;
}

int StepView::percent() const {
  if (state == "completed") return 100;
  if (known && *known > 0) return static_cast<int>(std::clamp(items * 100 / *known, 0LL, 100LL));
  return 0;
}

double StepView::rate() const {
  if (!secs || *secs <= 0 || items <= 0) return 0;
  return static_cast<double>(items) / *secs;
}

std::string StepView::eta() const {
  if (state != "running" || !known || rate() <= 0) return "";
  return duration_text(static_cast<double>(std::max(*known - items, 0LL)) / rate());
}

std::string StepView::items_text() const {
  return known ? fmt::format("{}/{}", items, *known) : std::to_string(items);
}

nlohmann::json StepView::json() const {
  return {{"jq", jq},
          {"job", job},
          {"type", type},
          {"state", state},
          {"items", items_text()},
          {"percent", percent()},
          {"rate", rate() > 0 ? fmt::format("{:.1f}/s", rate()) : "-"},
          {"eta", eta()},
          {"secs", secs ? duration_text(*secs) : "-"},
          {"endtext", endtext},
          {"start", start.empty() ? "-" : start},
          {"end", end.empty() ? "-" : end}};
}

std::string StepView::live_cells() const {
  return fmt::format(
      "<td><span class=\"state {0}\">{0}</span></td>"
      "<td><progress max=\"100\" value=\"{1}\">{1} %</progress> <span class=\"pct\">{1} "
      "%</span></td>"
      "<td class=\"items\">{2}</td><td class=\"rate\">{3}</td><td class=\"eta\">{4}</td>",
      esc(state), percent(), esc(items_text()), rate() > 0 ? fmt::format("{:.1f}/s", rate()) : "-",
      esc(eta()));
}

}  // namespace web
