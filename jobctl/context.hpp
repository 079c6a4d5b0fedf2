// Context: what every jobctl subcommand works with — the configuration of the conf dir shared
// with the scheduler (-c, $JOBLINE_CONFIG, the install's default), the database (--db, else
// the conf's), the output form (--json) — and the two ways a subcommand fails: Usage (exit 2)
// and Failure (exit 1). Subcommands parse their own arguments with parse_args().
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "agent/db.hpp"
#include "config.hpp"

namespace jobctl {

namespace po = boost::program_options;

class Usage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Context {
  std::string conf_dir;
  std::optional<std::string> db_override;  // --db
  bool json = false;

  // The conf dir's configuration, loaded on first use; throws Failure naming file:line.
  const sched::Config& config();
  // A new connection to the database; throws Failure with libpq's reason and a hint.
  agent::Database connect();
  std::string conninfo();

 private:
  std::optional<sched::Config> config_;
};

// Runs one control-interface command (SPEC §7) and returns its reply lines; an error line
// or an unreachable scheduler is a Failure.
std::vector<std::string> control(Context& ctx, const std::string& line);

// One subcommand: its name, its one-line summary, its usage line, and how it runs.
struct Command {
  std::string name;
  std::string summary;
  std::string usage;  // e.g. "queue <agent> --upload N [options]"
  std::function<po::options_description()> options;
  // Positional options in order: name and how many (-1 = all the rest).
  std::vector<std::pair<std::string, int>> positional;
  std::function<int(Context&, const po::variables_map&)> run;
};

// The subcommands, in the order --help lists them.
const std::vector<Command>& commands();

// Parses a subcommand's arguments; throws Usage with Boost's message naming the option.
po::variables_map parse_args(const Command& command, const std::vector<std::string>& args);
// `jobctl <command> --help`.
std::string command_help(const Command& command);

// Registration of the subcommands by their files (cmd_*.cpp).
void add_queue_commands(std::vector<Command>& out);
void add_list_commands(std::vector<Command>& out);
void add_control_commands(std::vector<Command>& out);
void add_watch_command(std::vector<Command>& out);
void add_db_commands(std::vector<Command>& out);

}  // namespace jobctl
