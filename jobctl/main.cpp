// jobctl: the command line for people and scripts (SPEC §7, docs/jobctl.md). Global options,
// then a subcommand with its own options. Exit status: 0 success, 1 the operation failed,
// 2 bad usage.
#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "context.hpp"

namespace {

using namespace jobctl;

enum Exit { kOk = 0, kFailed = 1, kUsage = 2 };

po::options_description global_options() {
  po::options_description o("global options");
  o.add_options()("help,h", "this text, or a subcommand's with `jobctl <command> --help`")(
      "config,c", po::value<std::string>(),
      "the conf dir (default: $JOBLINE_CONFIG, else the install's)")(
      "db", po::value<std::string>(), "PostgreSQL conninfo (default: the conf dir's)")(
      "json", "one JSON document on stdout, for scripts")("version", "the version");
  return o;
}

std::string main_help() {
  std::string out =
      "usage: jobctl [global options] <command> [command options]\n\n"
      "Queue, upload and watch work of the jobline scheduler.\n\ncommands:\n";
  for (const auto& c : commands()) {
    // The summary up to its first pause.
    auto cut = std::min({c.summary.find(". "), c.summary.find("; "), c.summary.find(" (")});
    out += fmt::format("  {:<10}{}\n", c.name, c.summary.substr(0, cut));
  }
  std::ostringstream o;
  o << global_options();
  out += "\n" + o.str() +
         "\nExit status: 0 success, 1 the operation failed, 2 bad usage.\n"
         "See `jobctl <command> --help` and docs/jobctl.md.\n";
  return out;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

// argv split at the subcommand: global options before it, the command's own after it.
struct Split {
  std::vector<std::string> global, rest;
  std::optional<std::string> command;
};
Split split_argv(int argc, char** argv) {
  Split s;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (s.command) {
      s.rest.push_back(a);
    } else if (a.empty() || a[0] != '-') {
      s.command = a;
    } else {
      s.global.push_back(a);
      // Global options that take a value in the next word.
      if ((a == "-c" || a == "--config" || a == "--db") && i + 1 < argc)
        s.global.push_back(argv[++i]);
    }
  }
  return s;
}

int run(int argc, char** argv) {
  Split split = split_argv(argc, argv);
  po::variables_map vm;
  po::store(po::command_line_parser(split.global).options(global_options()).run(), vm);
  if (vm.count("version")) {
    std::cout << "jobctl " << JOBLINE_VERSION << "\n";
    return kOk;
  }
  if (!split.command) {
    if (vm.count("help")) {
      std::cout << main_help();
      return kOk;
    }
    throw Usage("no command given");
  }
  const Command* cmd = find_command(*split.command);
  if (!cmd) throw Usage(fmt::format("unknown command '{}'", *split.command));
  const auto& rest = split.rest;
  if (vm.count("help") ||
      std::find(rest.begin(), rest.end(), std::string("--help")) != rest.end()) {
    std::cout << command_help(*cmd);
    return kOk;
  }
  Context ctx;
  ctx.conf_dir = vm.count("config") ? vm["config"].as<std::string>() : sched::default_conf_dir();
  if (const char* env = std::getenv("JOBLINE_CONFIG"); env && *env && !vm.count("config"))
    ctx.conf_dir = env;
  if (vm.count("db")) ctx.db_override = vm["db"].as<std::string>();
  ctx.json = vm.count("json") != 0;
  return cmd->run(ctx, parse_args(*cmd, rest));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Usage& e) {
    std::cerr << "jobctl: " << e.what() << "\nTry 'jobctl --help' for more information.\n";
    return kUsage;
  } catch (const po::error& e) {
    std::cerr << "jobctl: " << e.what() << "\nTry 'jobctl --help' for more information.\n";
    return kUsage;
  } catch (const Failure& e) {
    std::cerr << "jobctl: " << e.what() << "\n";
    return kFailed;
  } catch (const agent::Error& e) {
    std::cerr << "jobctl: database: " << e.what() << "\n";
    return kFailed;
  } catch (const std::exception& e) {
    std::cerr << "jobctl: " << e.what() << "\n";
    return kFailed;
  }
}
