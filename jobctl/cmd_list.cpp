// jobctl jobs, status, agents, load and log: listings from the database and the scheduler.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "context.hpp"
#include "log.hpp"
#include "output.hpp"
#include "step_state.hpp"

namespace jobctl {

namespace {

int jobs(Context& ctx, const po::variables_map& vm) {
  std::string sql = fmt::format(R"(
SELECT * FROM (
  SELECT j.job_pk, jq.jq_pk, jq.jq_type, {} AS state, jq.jq_itemsprocessed,
         split_part(jq.jq_schedinfo, '.', 1) AS host,
         to_char(jq.jq_starttime, 'YYYY-MM-DD HH24:MI:SS') AS started,
         extract(epoch FROM coalesce(jq.jq_endtime, now()) - jq.jq_starttime) AS seconds,
         jq.jq_endtext, j.job_upload_fk, jq.jq_itemsknown
    FROM jobqueue jq JOIN job j ON j.job_pk = jq.jq_job_fk) s
 WHERE ($1::int IS NULL OR job_pk = $1) AND ($2::text IS NULL OR state = $2)
   AND ($3::text IS NULL OR jq_type = $3) AND ($4::int IS NULL OR job_upload_fk = $4)
 ORDER BY jq_pk DESC LIMIT $5)",
                                kStepStateSql);
  auto opt = [&](const char* name) -> std::optional<std::string> {
    if (!vm.count(name)) return std::nullopt;
    const auto& v = vm[name].value();
    if (v.type() == typeid(long long)) return std::to_string(vm[name].as<long long>());
    return vm[name].as<std::string>();
  };
  static const std::set<std::string> states = {"queued", "waiting", "running",
                                               "paused", "failed",  "completed"};
  if (auto s = opt("state"); s && !states.count(*s))
    throw Usage(fmt::format("jobs: --state '{}' is not one of {}", *s, fmt::join(states, ", ")));
  auto db = ctx.connect();
  auto r = db.exec(sql, {opt("job"), opt("state"), opt("type"), opt("upload"),
                         std::to_string(vm["limit"].as<int>())});
  Table t({"job", "step", "type", "state", "items", "known", "host", "started", "duration", "end"});
  for (int i = 0; i < r.rows(); ++i) {
    auto num = [&](int c) { return r.is_null(i, c) ? Json() : Json(std::stoll(r.get(i, c))); };
    auto text = [&](int c) {
      return r.is_null(i, c) || r.get(i, c).empty() ? Json() : Json(r.get(i, c));
    };
    Json seconds = r.is_null(i, 7) ? Json() : Json(std::stod(r.get(i, 7)));
    t.add({num(0), num(1), text(2), text(3), num(4), num(10), text(5), text(6),
           ctx.json ? seconds
                    : (seconds.is_null() ? Json() : Json(duration_text(seconds.get<double>()))),
           text(8)});
  }
  t.print(std::cout, ctx.json);
  return 0;
}

// "key:value key:value" words of a FOSSology-style status line.
Json fields(const std::string& line) {
  Json obj = Json::object();
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    auto colon = word.find(':');
    if (colon == std::string::npos) continue;
    std::string key = word.substr(0, colon), value = word.substr(colon + 1);
    if (!value.empty() && value.back() == ',') value.pop_back();
    bool numeric = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
    obj[key] = numeric ? Json(std::stoll(value)) : Json(value);
  }
  return obj;
}

Table table_of(const std::vector<std::string>& lines, const std::string& first_key,
               const std::vector<std::string>& columns) {
  Table t(columns);
  for (const auto& line : lines) {
    if (line.rfind(first_key + ":", 0) != 0) continue;
    Json f = fields(line);
    std::vector<Json> row;
    for (const auto& c : columns) row.push_back(f.contains(c) ? f[c] : Json());
    t.add(std::move(row));
  }
  return t;
}

int status(Context& ctx, const po::variables_map& vm) {
  std::string cmd =
      vm.count("jq") ? "status " + std::to_string(vm["jq"].as<long long>()) : "status";
  auto reply = control(ctx, cmd);
  Table steps = table_of(reply, "job", {"job", "status", "type", "priority", "running", "failed"});
  Table agents = table_of(reply, "agent", {"agent", "host", "type", "status", "time"});
  Json head = reply.empty() || !vm.count("jq") ? fields(reply.empty() ? "" : reply[0]) : Json();
  if (ctx.json) {
    Json out{{"steps", steps.json()}, {"agents", agents.json()}};
    if (!head.is_null()) out["scheduler"] = head;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (!vm.count("jq") && !reply.empty()) std::cout << reply[0] << "\n\n";
  steps.print(std::cout);
  if (agents.size()) {
    std::cout << "\n";
    agents.print(std::cout);
  }
  return 0;
}

int agents(Context& ctx, const po::variables_map&) {
  const auto& config = ctx.config();
  auto reply = control(ctx, "agents");
  std::set<std::string> valid;
  for (const auto& line : reply) {
    std::istringstream in(line);
    for (std::string w; in >> w;) valid.insert(w);
  }
  Table t({"agent", "valid", "max", "plugin", "depends", "default"});
  for (const auto& [name, type] : config.agents) {
    const auto& p = type.plugin;
    t.add({name, valid.count(name) != 0, type.max, p ? Json(p->title) : Json(),
           p ? Json(fmt::format("{}", fmt::join(p->depends, ","))) : Json(),
           p ? Json(p->default_pipeline) : Json()});
  }
  t.print(std::cout, ctx.json);
  return 0;
}

int load(Context& ctx, const po::variables_map&) {
  Table t = table_of(control(ctx, "load"), "host", {"host", "address", "max", "running", "down"});
  t.print(std::cout, ctx.json);
  return 0;
}

int log(Context& ctx, const po::variables_map& vm) {
  auto jq = vm["jq"].as<long long>();
  auto db = ctx.connect();
  auto r = db.exec("SELECT jq_log FROM jobqueue WHERE jq_pk = $1", {std::to_string(jq)});
  if (!r.rows()) throw Failure(fmt::format("log: step {} does not exist", jq));
  if (r.is_null(0, 0)) throw Failure(fmt::format("log: step {} has no log yet (not started)", jq));
  std::string path = r.get(0, 0);
  std::ifstream in(path);
  // At verbose 0 a step whose agents print nothing and that ends cleanly never has a file: an
  // empty log, not a failure.
  if (!in && sched::log::step_logged_nothing(path)) {
    std::cerr << fmt::format(
        "jobctl: log: step {} has logged nothing ({} does not exist; at verbose 0 a step's "
        "log is written only when its agents print or something goes wrong)\n",
        jq, path);
    return 0;
  }
  if (!in)
    throw Failure(
        fmt::format("log: cannot read {} (the log of step {} is on the scheduler's "
                    "machine, readable by its user)",
                    path, jq));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::size_t tail = static_cast<std::size_t>(vm["tail"].as<int>());
  std::size_t from = tail > 0 && lines.size() > tail ? lines.size() - tail : 0;
  for (std::size_t i = from; i < lines.size(); ++i) std::cout << lines[i] << "\n";
  return 0;
}

po::options_description none() {
  return po::options_description("options");
}

}  // namespace

void add_list_commands(std::vector<Command>& out) {
  out.push_back({"jobs",
                 "List steps, newest first, with their job, state, items, host, start "
                 "and duration (ended steps too).",
                 "jobs [--job N] [--state S] [--type AGENT] [--upload N] [--limit N]",
                 [] {
                   po::options_description o("jobs options");
                   o.add_options()("job,j", po::value<long long>(), "only this job")(
                       "state,s", po::value<std::string>(),
                       "only steps in this state: queued, waiting, running, paused, failed, "
                       "completed")("type,t", po::value<std::string>(), "only this agent type")(
                       "upload,u", po::value<long long>(), "only jobs of this upload")(
                       "limit,n", po::value<int>()->default_value(50), "at most N steps");
                   return o;
                 },
                 {},
                 jobs});
  out.push_back({"status",
                 "The scheduler's state: its steps in memory and their agents (from "
                 "the control interface).",
                 "status [jq]",
                 [] {
                   po::options_description o("status options");
                   o.add_options()("jq", po::value<long long>(), "one step");
                   return o;
                 },
                 {{"jq", 1}},
                 status});
  out.push_back({"agents",
                 "The agent types of the conf dir, whether the scheduler holds them "
                 "valid, and their plugins.",
                 "agents",
                 none,
                 {},
                 agents});
  out.push_back({"load", "Each host with its running agents and its max.", "load", none, {}, load});
  out.push_back({"log",
                 "A step's log file (jq_log).",
                 "log <jq> [--tail N]",
                 [] {
                   po::options_description o("log options");
                   o.add_options()("jq", po::value<long long>()->required(), "the step")(
                       "tail", po::value<int>()->default_value(0), "only the last N lines");
                   return o;
                 },
                 {{"jq", 1}},
                 log});
}

}  // namespace jobctl
