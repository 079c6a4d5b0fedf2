// The jobs page (newest first, paginated), a job's page (steps, dependencies, log tails,
// actions) and the actions themselves (POST /action, through the scheduler's control
// interface). Both pages have a live part (#live) that app.js refreshes from /events.
#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <map>

#include "control_async.hpp"
#include "html.hpp"
#include "log.hpp"
#include "server.hpp"
#include "step_view.hpp"

namespace web {
namespace {

constexpr int kJobsPerPage = 25;
constexpr int kStepsPerJobInList = 12;
constexpr int kStepsPerJobPage = 500;
constexpr std::streamoff kLogTail = 4096;

// The last kLogTail bytes of a step's log file ("" when it cannot be read). A step that has
// logged nothing has no file (at verbose 0, one whose agents print nothing and that ends
// cleanly): that is said, not shown as an empty log.
std::string log_tail(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return sched::log::step_logged_nothing(path) ? "(nothing logged)" : "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kLogTail));
  std::string text(static_cast<std::size_t>(std::min(size, kLogTail)), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// The agents of the running steps, "pid@host" per step, from the replies to `status <jq>`
// (one per step, in order).
constexpr int kAgentQueries = 20;
constexpr std::chrono::seconds kAgentsTimeout{2};
std::map<long long, std::string> agents_of(const std::vector<long long>& steps,
                                           const jobctl::ControlResult& result) {
  std::map<long long, std::string> out;
  for (std::size_t i = 0; i < steps.size() && i < result.replies.size(); ++i) {
    long long jq = steps[i];
    for (const auto& line : result.replies[i]) {
      // agent:<pid> host:<host> type:<type> status:AGENT_<STATE> time:<...>
      if (line.rfind("agent:", 0) != 0) continue;
      std::string pid = line.substr(6, line.find(' ') - 6), host;
      if (auto h = line.find(" host:"); h != std::string::npos)
        host = line.substr(h + 6, line.find(' ', h + 6) - h - 6);
      out[jq] += (out[jq].empty() ? "" : ", ") + pid + "@" + host;
    }
  }
  return out;
}

std::string hidden(const App& app, long long job, long long jq, std::string_view op) {
  return fmt::format(
      "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"job\" "
      "value=\"{}\"><input type=\"hidden\" name=\"jq\" value=\"{}\"><input type=\"hidden\" "
      "name=\"op\" value=\"{}\">",
      esc(app.csrf), job, jq, esc(op));
}

std::string step_actions(const App& app, const StepView& s) {
  if (s.state == "completed" || s.state == "failed") return "";
  std::string out = fmt::format(
      "<form method=\"post\" action=\"/action\" class=\"inline\" data-confirm=\"Kill step "
      "{0}?\">{1}"
      "<input name=\"message\" placeholder=\"reason\" maxlength=\"200\" size=\"10\">"
      "<button class=\"kill\" name=\"kill\">Kill</button></form>",
      s.jq, hidden(app, s.job, s.jq, "kill"));
  std::string_view op = s.state == "paused" ? "restart" : "pause";
  out += fmt::format(
      "<form method=\"post\" action=\"/action\" class=\"inline\">{}<button class=\"{}\">{}</button>"
      "</form>",
      hidden(app, s.job, s.jq, op), op, op == "pause" ? "Pause" : "Restart");
  return out;
}

// The job's page from its query (see page_job) and the agents of its running steps.
void render_job(App& app, const RequestPtr& req, long long job, const sched::QueryResult& r,
                const std::map<long long, std::string>& agents) {
  std::string rows, logs;
  long long first_jq = 0;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 6)) continue;
    StepView s = StepView::from(r, i, 6);
    auto agent = agents.find(s.jq);
    if (first_jq == 0) first_jq = s.jq;
    rows += fmt::format(
        "<tr data-jq=\"{0}\"><td>{0}</td><td>{1}</td>{2}<td>{3}</td><td class=\"start\">{4}</td>"
        "<td class=\"secs\">{5}</td><td class=\"end\">{6}</td><td "
        "class=\"endtext\">{7}</td><td>{8}</td>"
        "<td>{9}</td></tr>\n",
        s.jq, esc(s.type), s.live_cells(),
        esc(agent != agents.end() ? agent->second
            : s.host.empty()      ? "-"
                                  : s.host),
        esc(s.start.empty() ? "-" : s.start), s.secs ? duration_text(*s.secs) : "-",
        esc(s.end.empty() ? "-" : s.end), esc(s.endtext), esc(s.depends.empty() ? "-" : s.depends),
        step_actions(app, s));
    std::string tail = log_tail(s.log);
    logs +=
        fmt::format("<details><summary>step {} {} log{}</summary><pre>{}</pre></details>\n", s.jq,
                    esc(s.type), s.log.empty() ? " (none)" : ": " + esc(s.log), esc(tail));
  }
  long long n = r.get_long(0, 5);
  std::string live = fmt::format(
      "<table class=\"job-steps\"><thead><tr><th>Step</th><th>Type</th><th>State</th>"
      "<th>Progress</th><th>Items</th><th>Rate</th><th>ETA</th><th>Pid@host</th><th>Start</th>"
      "<th>Duration</th><th>End</th><th>End text</th><th>Depends on</th><th>Actions</th></tr>"
      "</thead><tbody>{}</tbody></table>{}",
      rows.empty() ? "<tr><td colspan=\"14\">No steps.</td></tr>" : rows,
      n > kStepsPerJobPage ? fmt::format("<p>The first {} of {} steps.</p>", kStepsPerJobPage, n)
                           : "");
  if (req->query("fragment") == "1") return req->html(200, live);
  std::string upload =
      r.is_null(0, 4) ? "-" : fmt::format("<a href=\"/upload/{0}\">{0}</a>", r.get_long(0, 4));
  std::string priority;
  if (first_jq != 0)
    priority = fmt::format(
        "<form method=\"post\" action=\"/action\" class=\"inline\">{}<label>Priority "
        "<input name=\"priority\" type=\"number\" value=\"{}\" min=\"-1000000\" max=\"1000000\">"
        "</label> <button>Set</button></form>",
        hidden(app, job, first_jq, "priority"), r.get_long(0, 2));
  std::string head =
      fmt::format("<p>Name <strong>{}</strong> · upload {} · queued {} · {} steps</p><p>{}</p>",
                  esc(r.get(0, 1)), upload, esc(r.get(0, 3)), n, priority);
  if (!req->query("error").empty())
    head += "<p class=\"error\">" + esc(req->query("error")) + "</p>";
  req->html(200, page_begin(fmt::format("Job {}", job), "/jobs", "job") + head +
                     fmt::format("<div id=\"live\" data-job=\"{0}\" data-fragment=\"/job/{0}?"
                                 "fragment=1\">",
                                 job) +
                     live + "</div><h2>Logs</h2>" + logs + page_end());
}

}  // namespace

void page_jobs(App& app, const RequestPtr& req) {
  long long page = std::max(1LL, parse_id(req->query("page")));
  const std::string sql = fmt::format(R"(
WITH j AS (SELECT job_pk, job_name, job_priority, job_queued, job_upload_fk FROM job
            ORDER BY job_pk DESC LIMIT {0} OFFSET $1),
     jq AS (SELECT q.*, row_number() OVER (PARTITION BY q.jq_job_fk ORDER BY q.jq_pk) AS rn,
                   count(*) OVER (PARTITION BY q.jq_job_fk) AS n
              FROM jobqueue q WHERE q.jq_job_fk IN (SELECT job_pk FROM j))
SELECT j.job_pk, j.job_name, j.job_priority, to_char(j.job_queued, 'YYYY-MM-DD HH24:MI:SS'),
       j.job_upload_fk, jq.n, (SELECT count(*) FROM job), {1}
  FROM j LEFT JOIN jq ON jq.jq_job_fk = j.job_pk AND jq.rn <= {2}
 ORDER BY j.job_pk DESC, jq.jq_pk)",
                                      kJobsPerPage, kStepColumns, kStepsPerJobInList);
  app.db->query(
      sql, {std::to_string((page - 1) * kJobsPerPage)}, [req, page](const sched::QueryResult& r) {
        if (!r.ok()) return req->error(503, "database: " + r.error());
        std::string rows;
        long long total = 0, current = 0;
        for (int i = 0; i < r.rows(); ++i) {
          long long job = r.get_long(i, 0);
          total = r.get_long(i, 6);
          if (job != current) {
            if (current != 0) rows += "</tbody></table></td></tr>\n";
            current = job;
            std::string upload =
                r.is_null(i, 4) ? "-"
                                : fmt::format("<a href=\"/upload/{0}\">{0}</a>", r.get_long(i, 4));
            long long n = r.get_long(i, 5);
            rows += fmt::format(
                "<tr class=\"job\" data-job=\"{0}\"><td><a "
                "href=\"/job/{0}\">{0}</a></td><td>{1}</td>"
                "<td>{2}</td><td>{3}</td><td>{4}</td><td><table class=\"steps\"><tbody>",
                job, esc(r.get(i, 1)), upload, esc(r.get(i, 3)), r.get_long(i, 2));
            if (n > kStepsPerJobInList)
              rows += fmt::format(
                  "<tr><td colspan=\"6\"><a href=\"/job/{}\">{} steps: all on the "
                  "job's page</a></td></tr>",
                  job, n);
          }
          if (r.is_null(i, 7)) continue;  // a job without steps
          StepView s = StepView::from(r, i, 7);
          rows += fmt::format("<tr data-jq=\"{}\"><td>{} {}</td>{}</tr>", s.jq, s.jq, esc(s.type),
                              s.live_cells());
        }
        if (current != 0) rows += "</tbody></table></td></tr>\n";
        long long pages = std::max(1LL, (total + kJobsPerPage - 1) / kJobsPerPage);
        std::string nav =
            fmt::format("<p class=\"pages\">page {} of {} ({} jobs)", page, pages, total);
        if (page > 1) nav += fmt::format(" <a href=\"/jobs?page={}\">newer</a>", page - 1);
        if (page < pages) nav += fmt::format(" <a href=\"/jobs?page={}\">older</a>", page + 1);
        nav += "</p>";
        std::string live = fmt::format(
            "<table "
            "class=\"jobs\"><thead><tr><th>Job</th><th>Name</th><th>Upload</th><th>Queued</th>"
            "<th>Priority</th><th>Steps: state, progress, items, rate, ETA</th></tr></thead><tbody>"
            "{}</tbody></table>{}",
            rows.empty() ? "<tr><td colspan=\"6\">No jobs yet.</td></tr>" : rows, nav);
        if (req->query("fragment") == "1") return req->html(200, live);
        req->html(
            200, page_begin("Jobs", "/jobs", "jobs") +
                     fmt::format("<div id=\"live\" data-fragment=\"/jobs?page={}&amp;fragment=1\">",
                                 page) +
                     live + "</div>" + page_end());
      });
}

void page_job(App& app, const RequestPtr& req, long long job) {
  const std::string sql = fmt::format(R"(
WITH n AS (SELECT count(*) AS steps FROM jobqueue WHERE jq_job_fk = $1)
SELECT j.job_pk, j.job_name, j.job_priority, to_char(j.job_queued, 'YYYY-MM-DD HH24:MI:SS'),
       j.job_upload_fk, n.steps, {}
  FROM job j CROSS JOIN n LEFT JOIN LATERAL (SELECT * FROM jobqueue q WHERE q.jq_job_fk = j.job_pk
                                 ORDER BY q.jq_pk LIMIT {}) jq ON true
 WHERE j.job_pk = $1 ORDER BY jq.jq_pk)",
                                      kStepColumns, kStepsPerJobPage);
  app.db->query(sql, {std::to_string(job)}, [&app, req, job](const sched::QueryResult& r) {
    if (!r.ok()) return req->error(503, "database: " + r.error());
    if (r.rows() == 0) return req->error(404, fmt::format("job {} does not exist", job));
    std::vector<long long> running;
    std::vector<std::string> commands;
    for (int i = 0; i < r.rows() && static_cast<int>(running.size()) < kAgentQueries; ++i)
      if (!r.is_null(i, 6) && (r.get(i, 9) == "running" || r.get(i, 9) == "paused")) {
        running.push_back(r.get_long(i, 6));
        commands.push_back(fmt::format("status {}", running.back()));
      }
    if (running.empty()) return render_job(app, req, job, r, {});
    // The pids from the scheduler; without it (unreachable, slow) the page shows the hosts.
    jobctl::control_async(app.config, std::move(commands), kAgentsTimeout,
                          [&app, req, job, r, running](const jobctl::ControlResult& c) {
                            render_job(app, req, job, r, agents_of(running, c));
                          });
  });
}

void post_action(App& app, const RequestPtr& req) {
  const std::string op = req->field("op");
  long long jq = parse_id(req->field("jq"));
  long long job = parse_id(req->field("job"));
  if (jq == 0 || job == 0) return req->error(400, "jq and job must be positive integers");
  std::string line;
  if (op == "kill") {
    std::string msg;
    for (char c : req->field("message").substr(0, 200))
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) msg += c;
    line = fmt::format("kill {} \"{}\"", jq, msg.empty() ? "killed from the web page" : msg);
  } else if (op == "pause" || op == "restart") {
    line = fmt::format("{} {}", op, jq);
  } else if (op == "priority") {
    long long p = 0;
    const std::string text = req->field("priority");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (ec != std::errc() || end != text.data() + text.size() || p < -1000000 || p > 1000000)
      return req->error(400, "priority must be an integer from -1000000 to 1000000");
    line = fmt::format("priority {} {}", jq, p);
  } else {
    return req->error(400, "unknown action; expected kill, pause, restart or priority");
  }
  // On the loop, bounded: the exchange is paused until the scheduler answers or the timeout.
  jobctl::control_async(
      app.config, {line}, kControlTimeout, [req, job](const jobctl::ControlResult& r) {
        if (!r.ok())
          return req->error(503, fmt::format("the scheduler cannot be reached: {}", r.error));
        for (const auto& reply : r.replies.front())
          if (jobctl::is_error_line(reply))
            return req->redirect(
                fmt::format("/job/{}?error={}", job,
                            std::unique_ptr<char, decltype(&g_free)>(
                                g_uri_escape_string(reply.c_str(), nullptr, FALSE), &g_free)
                                .get()));
        req->redirect(fmt::format("/job/{}", job));
      });
}

}  // namespace web
