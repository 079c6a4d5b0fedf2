// jobctl queue and jobctl upload: work queued through the agents' plugins, or raw steps.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "context.hpp"
#include "output.hpp"
#include "queue_plan.hpp"

namespace jobctl {

namespace {

namespace fs = std::filesystem;

void print_plan(Context& ctx, const QueueResult& r) {
  Table t({"agent", "action", "jq", "why"});
  for (const auto& s : r.steps)
    t.add({s.agent, action_name(s.action), s.jq_pk ? Json(s.jq_pk) : Json(), s.why});
  if (ctx.json) {
    std::cout << Json{{"job", r.job ? Json(r.job) : Json()}, {"steps", t.json()}}.dump(2) << "\n";
    return;
  }
  if (r.job) std::cout << "job " << r.job << "\n";
  t.print(std::cout);
}

// Raw queueing for scripts: one step with the given args or SQL.
int queue_raw(Context& ctx, const po::variables_map& vm, const std::string& agent) {
  bool sql = vm.count("sql") != 0;
  if (sql && vm.count("args")) throw Usage("queue: give --args or --sql, not both");
  if (sql != (vm.count("runonpfile") != 0))
    throw Usage("queue: --sql needs --runonpfile COLUMN (and --runonpfile needs --sql)");
  std::vector<long long> deps =
      vm.count("depends") ? vm["depends"].as<std::vector<long long>>() : std::vector<long long>{};
  std::string data = sql ? vm["sql"].as<std::string>()
                         : (vm.count("args") ? vm["args"].as<std::string>() : std::string());
  std::optional<std::string> host;
  if (vm.count("host")) host = vm["host"].as<std::string>();
  auto db = ctx.connect();
  auto [job, jq] = in_transaction(db, [&] {
    std::string job = vm.count("job")
                          ? std::to_string(vm["job"].as<long long>())
                          : db.exec("SELECT queue_job($1, $2, $3)",
                                    {"jobctl: " + agent,
                                     vm.count("upload") ? std::optional<std::string>(std::to_string(
                                                              vm["upload"].as<long long>()))
                                                        : std::nullopt,
                                     std::to_string(vm["priority"].as<int>())})
                                .get(0, 0);
    auto jq = db.exec("SELECT queue_step($1, $2, $3, $4::int[], $5, $6, NULL)",
                      {job, agent, data, fmt::format("{{{}}}", fmt::join(deps, ",")),
                       sql ? std::optional<std::string>(vm["runonpfile"].as<std::string>())
                           : std::nullopt,
                       host})
                  .get(0, 0);
    return std::pair(job, jq);
  });
  if (ctx.json)
    std::cout << Json{{"job", std::stoll(job)}, {"jq", std::stoll(jq)}}.dump(2) << "\n";
  else
    std::cout << "job " << job << ": queued " << agent << " as step " << jq << "\n";
  return 0;
}

int queue(Context& ctx, const po::variables_map& vm) {
  auto agent = vm["agent"].as<std::string>();
  if (vm.count("args") || vm.count("sql") || vm.count("runonpfile") || vm.count("depends") ||
      vm.count("host"))
    return queue_raw(ctx, vm, agent);
  if (!vm.count("upload"))
    throw Usage("queue: give --upload N (through the agent's plugin) or --args/--sql (raw)");
  QueueRequest req;
  req.agents = {agent};
  req.upload = vm["upload"].as<long long>();
  if (vm.count("job")) req.job = vm["job"].as<long long>();
  if (!vm["priority"].defaulted()) req.priority = vm["priority"].as<int>();
  const auto& config = ctx.config();
  auto db = ctx.connect();
  QueueResult r;
  try {
    r = in_transaction(db, [&] { return queue_for_upload(db, config, req); });
  } catch (const agent::Error& e) {
    throw Failure(e.what());
  } catch (const std::runtime_error& e) {
    throw Failure(fmt::format("queue: {}", e.what()));
  }
  print_plan(ctx, r);
  return 0;
}

// The agents of an upload's default pipeline (plugins with default = true).
std::vector<std::string> default_pipeline(const sched::Config& config) {
  std::vector<std::string> out;
  for (const auto& [name, type] : config.agents)
    if (type.plugin && type.plugin->default_pipeline) out.push_back(name);
  return out;
}

int upload(Context& ctx, const po::variables_map& vm) {
  std::error_code ec;
  fs::path path = fs::canonical(vm["path"].as<std::string>(), ec);
  if (ec)
    throw Failure(fmt::format("upload: '{}': {}", vm["path"].as<std::string>(), ec.message()));
  if (!fs::is_directory(path) && !fs::is_regular_file(path))
    throw Failure(fmt::format("upload: '{}' is neither a directory nor a file", path.string()));
  const auto& config = ctx.config();
  QueueRequest req;
  req.agents =
      vm.count("agent") ? vm["agent"].as<std::vector<std::string>>() : default_pipeline(config);
  if (req.agents.empty())
    throw Failure(
        fmt::format("upload: no agent in {}/agents has a [plugin] group with "
                    "default = true; name agents with --agent",
                    config.conf_dir));
  if (!vm["priority"].defaulted()) req.priority = vm["priority"].as<int>();
  auto db = ctx.connect();
  std::string name = vm.count("name") ? vm["name"].as<std::string>() : path.filename().string();
  QueueResult r;
  try {
    r = in_transaction(db, [&] {
      req.upload =
          std::stoll(db.exec("INSERT INTO upload (upload_filename, upload_desc, upload_origin) "
                             "VALUES ($1, $2, 'jobctl') RETURNING upload_pk",
                             {path.string(), name})
                         .get(0, 0));
      return queue_for_upload(db, config, req);
    });
  } catch (const std::runtime_error& e) {
    throw Failure(fmt::format("upload: {}", e.what()));
  }
  if (ctx.json) {
    Table t({"agent", "action", "jq"});
    for (const auto& s : r.steps) t.add({s.agent, action_name(s.action), s.jq_pk});
    std::cout << Json{{"upload", req.upload},
                      {"job", r.job},
                      {"path", path.string()},
                      {"steps", t.json()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "upload " << req.upload << ": " << path.string() << "\n";
  print_plan(ctx, r);
  std::cout << "watch it with: jobctl watch " << r.job << "\n";
  return 0;
}

po::options_description queue_options() {
  po::options_description o("queue options");
  o.add_options()("agent", po::value<std::string>()->required(), "the agent (type) to queue")(
      "upload,u", po::value<long long>(), "the upload to run it on (through its plugin)")(
      "job,j", po::value<long long>(), "add the steps to this job instead of a new one")(
      "priority,p", po::value<int>()->default_value(0), "priority of a new job")(
      "args", po::value<std::string>(), "raw: the step's jq_args")(
      "sql", po::value<std::string>(), "raw: an SQL query feeding the step (needs --runonpfile)")(
      "runonpfile", po::value<std::string>(), "raw: the column that routes each row")(
      "depends", po::value<std::vector<long long>>()->multitoken(),
      "raw: jq_pks the step waits for")("host", po::value<std::string>(),
                                        "raw: run only on this host of [hosts]");
  return o;
}

po::options_description upload_options() {
  po::options_description o("upload options");
  o.add_options()("path", po::value<std::string>()->required(), "a directory or an archive")(
      "name", po::value<std::string>(), "the upload's description (default: the file name)")(
      "agent,a", po::value<std::vector<std::string>>(),
      "queue these agents (repeatable) instead of the default pipeline")(
      "priority,p", po::value<int>()->default_value(0), "priority of the job");
  return o;
}

}  // namespace

void add_queue_commands(std::vector<Command>& out) {
  out.push_back({"queue",
                 "Queue an agent for an upload with its dependencies (its plugin), in one "
                 "transaction: steps already queued and not ended are reused, agents whose ars "
                 "says they finished the upload are skipped. With --args or --sql, queue one "
                 "raw step.",
                 "queue <agent> (--upload N | --args TEXT | --sql QUERY --runonpfile COL) "
                 "[options]",
                 queue_options,
                 {{"agent", 1}},
                 queue});
  out.push_back({"upload",
                 "Register a directory or an archive as an upload and queue the default "
                 "pipeline (the agents whose plugin says default = true, with their "
                 "dependencies). Prints the upload and job ids.",
                 "upload <path> [options]",
                 upload_options,
                 {{"path", 1}},
                 upload});
}

}  // namespace jobctl
