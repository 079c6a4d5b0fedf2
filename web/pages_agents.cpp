// The agents and hosts page: each agent type of the conf dir with its plugin and whether the
// scheduler's self-test accepted it (`agents`), each host with up/down and running/max (`load`).
#include <fmt/format.h>

#include <map>
#include <set>
#include <sstream>

#include "control_async.hpp"
#include "html.hpp"
#include "server.hpp"

namespace web {
namespace {

// The page from the scheduler's replies to `agents` and `load` (or its error).
void render_agents(const App& app, const RequestPtr& req, const jobctl::ControlResult& r) {
  std::set<std::string> valid;
  std::map<std::string, std::string> running;  // host -> running
  std::set<std::string> down;                  // hosts the scheduler found down
  const std::string& error = r.error;
  if (r.ok()) {
    for (const auto& line : r.replies[0]) {
      std::istringstream words(line);
      for (std::string w; words >> w;) valid.insert(w);
    }
    for (const auto& line : r.replies[1]) {
      // host:<name> address:<addr> max:<n> running:<n> down:<0|1>
      std::istringstream words(line);
      std::string host;
      for (std::string w; words >> w;) {
        if (w.rfind("host:", 0) == 0) host = w.substr(5);
        if (w.rfind("running:", 0) == 0) running[host] = w.substr(8);
        if (w == "down:1") down.insert(host);
      }
    }
  }
  std::string body;
  if (!error.empty())
    body += "<p class=\"error\">The scheduler cannot be reached: " + esc(error) + "</p>";
  body +=
      "<h2>Agent types</h2><table><thead><tr><th>Agent</th><th>Self-test</th><th>Max</th>"
      "<th>Plugin</th><th>Depends on</th><th>Default pipeline</th></tr></thead><tbody>";
  for (const auto& [name, type] : app.config.agents) {
    std::string test = !error.empty() ? "unknown" : valid.count(name) ? "passed" : "failed";
    std::string deps;
    if (type.plugin)
      for (const auto& d : type.plugin->depends) deps += (deps.empty() ? "" : ", ") + d;
    body += fmt::format(
        "<tr><td>{}</td><td><span class=\"state {}\">{}</span></td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>",
        esc(name),
        test == "passed"   ? "completed"
        : test == "failed" ? "failed"
                           : "queued",
        test, type.max < 0 ? std::string("unlimited") : std::to_string(type.max),
        type.plugin ? esc(type.plugin->title) : "-", esc(deps.empty() ? "-" : deps),
        type.plugin && type.plugin->default_pipeline ? "yes" : "no");
  }
  body +=
      "</tbody></table><h2>Hosts</h2><table><thead><tr><th>Host</th><th>Address</th>"
      "<th>State</th><th>Running</th><th>Max</th></tr></thead><tbody>";
  for (const auto& h : app.config.hosts) {
    auto it = running.find(h.name);
    std::string state = !error.empty() ? "unknown" : down.count(h.name) ? "down" : "up";
    body += fmt::format(
        "<tr><td>{}</td><td>{}</td><td><span class=\"state {}\">{}</span></td><td>{}</td>"
        "<td>{}</td></tr>",
        esc(h.name), esc(h.address), state == "down" ? "failed" : "completed", state,
        it == running.end() ? "-" : esc(it->second), h.max);
  }
  body += "</tbody></table>";
  for (const auto& w : app.config.warnings) body += "<p class=\"warning\">" + esc(w) + "</p>";
  req->html(200, page_begin("Agents and hosts", "/agents") + body + page_end());
}

}  // namespace

void page_agents(App& app, const RequestPtr& req) {
  jobctl::control_async(
      app.config, {"agents", "load"}, kControlTimeout,
      [&app, req](const jobctl::ControlResult& r) { render_agents(app, req, r); });
}

}  // namespace web
