// The scheduler's command line (SPEC §6), parsed with Boost.Program_options into Options.
// Parsing has no side effects: it neither prints nor exits; main prints help_text or the
// UsageError and chooses the exit code.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace sched {

struct Options {
  std::string config_dir;          // -c; else $JOBLINE_CONFIG; else JOBLINE_DEFAULT_CONF_DIR
  bool daemon = false;             // -d
  std::optional<std::string> log;  // -L FILE|stdout|stderr; overrides [scheduler] log
  int verbose = 0;                 // -v N: 0 errors and warnings, 1 +NOTE, 2 +DEBUG
  std::optional<std::string> db;   // --db CONNINFO; overrides [database] and Db.conf
  bool init_db = false;            // --init-db: install/upgrade the schema, then exit
  static constexpr int kMaxDbWait = 86400;
  int db_wait = 60;                 // --db-wait SECONDS: wait for the database at start; 0 = no
  bool reset = false;               // -R: start unfinished steps over
  bool test = false;                // -t: self-test every agent type on every host, exit
  bool test_then_run = false;       // -T: self-test, then run if all passed
  std::optional<int> port;          // -p: overrides [scheduler] port
  std::string pidfile;              // --pidfile FILE; "" = none
  std::optional<std::string> user;  // --user NAME; overrides [scheduler] user
  bool help = false;                // -h: print help_text, exit 0
  bool version = false;             // --version: print version_text(), exit 0
  std::string help_text;            // the complete usage text
};

// One line naming the option and what is expected, e.g.
// "--port: '70000' is out of range; expected an integer from 1 to 65535".
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// argv[0] is the program name. Reads $JOBLINE_CONFIG when -c is not given.
Options parse_options(int argc, char** argv);

// The text of --help (options with defaults, signals, environment).
std::string help_text();
// "scheduler (jobline) <version>".
std::string version_text();
}  // namespace sched
