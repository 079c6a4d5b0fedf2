// Context (context.hpp): configuration, database, argument parsing of subcommands.
#include "context.hpp"

#include <sstream>

#include <fmt/format.h>

#include "control_client.hpp"

namespace jobctl {

const sched::Config& Context::config() {
  if (!config_) {
    try {
      config_ = sched::load_config(conf_dir);
    } catch (const sched::ConfigError& e) {
      throw Failure(e.what());
    }
  }
  return *config_;
}

std::string Context::conninfo() {
  return db_override ? *db_override : config().conninfo;
}

agent::Database Context::connect() {
  std::string info = conninfo();
  try {
    return agent::Database(info);
  } catch (const agent::Error& e) {
    throw Failure(
        fmt::format("{}; the database comes from {} (use --db CONNINFO, or "
                    "'jobctl db init' to create it; docs/jobctl.md)",
                    e.what(), db_override ? "--db" : config().conninfo_source));
  }
}

std::vector<std::string> control(Context& ctx, const std::string& line) {
  try {
    ControlClient client(ctx.config());
    auto reply = client.command(line);
    for (const auto& l : reply)
      if (is_error_line(l)) throw Failure(fmt::format("{}: {}", line.substr(0, line.find(' ')), l));
    return reply;
  } catch (const ControlError& e) {
    throw Failure(e.what());
  }
}

po::variables_map parse_args(const Command& command, const std::vector<std::string>& args) {
  po::options_description all = command.options();
  po::positional_options_description pos;
  for (const auto& [name, count] : command.positional) pos.add(name.c_str(), count);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw Usage(fmt::format("{}: {}", command.name, e.what()));
  }
  return vm;
}

std::string command_help(const Command& command) {
  std::ostringstream out;
  out << "usage: jobctl [global options] " << command.usage << "\n\n"
      << command.summary << "\n\n"
      << command.options();
  return out.str();
}

}  // namespace jobctl

namespace jobctl {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> out;
    add_queue_commands(out);
    add_watch_command(out);
    add_list_commands(out);
    add_control_commands(out);
    add_db_commands(out);
    return out;
  }();
  return all;
}

}  // namespace jobctl
