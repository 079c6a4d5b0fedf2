// The scheduler's command line (options.hpp) with Boost.Program_options. Numbers are taken
// as strings and checked here so that every error names the option and the expected range.
#include "options.hpp"

#include "config.hpp"

#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#ifndef JOBLINE_VERSION
#define JOBLINE_VERSION "unknown"
#endif

namespace po = boost::program_options;

namespace sched {
namespace {

constexpr const char* kUsage = "Usage: scheduler [options]\n";

constexpr const char* kIntro =
    "The jobline scheduler: takes queued job steps from PostgreSQL, starts their agents\n"
    "(locally or over ssh on the hosts of scheduler.conf) and feeds them data.\n";

constexpr const char* kEpilogue =
    "\n"
    "Configuration:\n"
    "  <DIR>/scheduler.conf    hosts, timeouts, control interface, log (GLib key file)\n"
    "  <DIR>/agents/*.conf     one agent type per file (the file's name is the type)\n"
    "  <DIR>/Db.conf           database connection when scheduler.conf has no [database]\n"
    "  See docs/configuration.md for every key and its default.\n"
    "\n"
    "Environment:\n"
    "  JOBLINE_CONFIG          conf dir used when -c is not given\n"
    "  PGHOST, PGDATABASE, ... libpq's variables, used for whatever the conninfo leaves out\n"
    "\n"
    "Signals:\n"
    "  TERM, INT   graceful stop: start no new work, let running agents finish, exit\n"
    "  QUIT        kill every agent, mark their steps failed, exit\n"
    "  HUP         reload the configuration and reopen the log file\n";

po::options_description describe() {
  po::options_description d("Options");
  const std::string conf = std::string("configuration directory (default: $JOBLINE_CONFIG, else ") +
                           default_conf_dir() + ")";
  // clang-format off
  d.add_options()
    ("config,c", po::value<std::string>()->value_name("DIR"), conf.c_str())
    ("daemon,d", "run in the background (detach from the terminal)")
    ("log,L", po::value<std::string>()->value_name("FILE"),
     "log to FILE, 'stdout' or 'stderr' (default: [scheduler] log, else stderr)")
    ("verbose,v", po::value<std::string>()->value_name("N"),
     "verbosity: 0 errors and warnings (default), 1 also notes, 2 also debug")
    ("db", po::value<std::string>()->value_name("CONNINFO"),
     "libpq connection string; overrides [database] conninfo and Db.conf")
    ("init-db", "install or upgrade the database schema, then exit")
    ("db-wait", po::value<std::string>()->value_name("SECONDS"),
     "at start (and with --init-db), wait up to SECONDS for a database that is not up yet; "
     "0 = do not wait (default: 60, at most 86400)")
    ("reset,R", "start over the steps left unfinished by a previous run")
    ("test,t", "self-test every agent type on every host, print one line per agent, "
               "exit 0 if all pass")
    ("test-then-run,T", "self-test as -t, then run as usual if all pass (exit non-zero otherwise)")
    ("port,p", po::value<std::string>()->value_name("N"),
     "TCP port of the control interface (default: [scheduler] port, else 24693)")
    ("pidfile", po::value<std::string>()->value_name("FILE"), "write the scheduler's pid to FILE")
    ("user", po::value<std::string>()->value_name("NAME"),
     "when started as root: become user NAME (and its groups) once the control sockets are "
     "bound and the log is open (default: [scheduler] user)")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  // clang-format on
  return d;
}

// "--port" for port, "--config" for config: how the user can name the option.
std::string dashed(const std::string& name) {
  return "--" + name;
}

int parse_int_option(const po::variables_map& vm, const std::string& name, int lo, int hi) {
  const auto& text = vm[name].as<std::string>();
  std::string expected = hi == std::numeric_limits<int>::max()
                             ? fmt::format("an integer >= {}", lo)
                             : fmt::format("an integer from {} to {}", lo, hi);
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec == std::errc::invalid_argument || p != text.data() + text.size()) {
    throw UsageError(
        fmt::format("{}: '{}' is not an integer; expected {}", dashed(name), text, expected));
  }
  if (ec == std::errc::result_out_of_range || v < lo || v > hi) {
    throw UsageError(
        fmt::format("{}: '{}' is out of range; expected {}", dashed(name), text, expected));
  }
  return static_cast<int>(v);
}

std::string nonempty(const po::variables_map& vm, const std::string& name, const char* what) {
  const auto& v = vm[name].as<std::string>();
  if (v.empty()) throw UsageError(fmt::format("{}: empty; expected {}", dashed(name), what));
  return v;
}

po::variables_map parse_argv(int argc, char** argv, const po::options_description& desc) {
  po::variables_map vm;
  // No positional arguments: a word that is not an option is collected only to be named in the
  // error.
  po::options_description all;
  all.add(desc).add_options()("unexpected-argument", po::value<std::vector<std::string>>());
  try {
    po::store(
        po::command_line_parser(argc, argv)
            .options(all)
            .positional(po::positional_options_description().add("unexpected-argument", -1))
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw UsageError(fmt::format("{}; expected an option from --help", e.what()));
  } catch (const po::error& e) {
    throw UsageError(fmt::format("{} (see --help)", e.what()));
  }
  if (vm.count("unexpected-argument") != 0) {
    throw UsageError(fmt::format("'{}': unexpected argument; expected only options (see --help)",
                                 vm["unexpected-argument"].as<std::vector<std::string>>().front()));
  }
  return vm;
}

void read_values(const po::variables_map& vm, Options& o) {
  if (vm.count("config") != 0) {
    o.config_dir = nonempty(vm, "config", "a configuration directory");
  } else if (const char* env = std::getenv("JOBLINE_CONFIG"); env != nullptr && *env != '\0') {
    o.config_dir = env;
  } else {
    o.config_dir = default_conf_dir();
  }
  if (vm.count("log") != 0) o.log = nonempty(vm, "log", "a file, 'stdout' or 'stderr'");
  if (vm.count("verbose") != 0) {
    o.verbose = parse_int_option(vm, "verbose", 0, std::numeric_limits<int>::max());
  }
  if (vm.count("db") != 0) o.db = vm["db"].as<std::string>();
  if (vm.count("db-wait") != 0) {
    o.db_wait =
        parse_int_option(vm, "db-wait", 0, Options::kMaxDbWait);  // a day: the timer's ms fit
  }
  if (vm.count("port") != 0) o.port = parse_int_option(vm, "port", 1, 65535);
  if (vm.count("pidfile") != 0) o.pidfile = nonempty(vm, "pidfile", "a file name");
  if (vm.count("user") != 0) o.user = nonempty(vm, "user", "a user name");
}

}  // namespace

std::string version_text() {
  return fmt::format("scheduler (jobline) {}", JOBLINE_VERSION);
}

std::string help_text() {
  std::ostringstream out;
  out << kUsage << "\n" << kIntro << "\n" << describe() << kEpilogue;
  return out.str();
}

Options parse_options(int argc, char** argv) {
  Options o;
  o.help_text = help_text();
  po::variables_map vm = parse_argv(argc, argv, describe());
  o.daemon = vm.count("daemon") != 0;
  o.init_db = vm.count("init-db") != 0;
  o.reset = vm.count("reset") != 0;
  o.test = vm.count("test") != 0;
  o.test_then_run = vm.count("test-then-run") != 0;
  o.help = vm.count("help") != 0;
  o.version = vm.count("version") != 0;
  read_values(vm, o);
  if (o.test && o.test_then_run) {
    throw UsageError("-t/--test and -T/--test-then-run: given together; expected one of them");
  }
  if (o.test && o.daemon) {
    throw UsageError(
        "-t/--test and -d/--daemon: given together; expected -t in the foreground "
        "(or -T to test, then run as a daemon)");
  }
  return o;
}

}  // namespace sched
