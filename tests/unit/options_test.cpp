// Unit tests of sched::parse_options (scheduler/options.hpp): defaults, every option, and a
// one-line UsageError naming the option for each bad input.
#include "config.hpp"
#include "options.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

// Runs parse_options on {"scheduler", args...}.
sched::Options parse(std::initializer_list<std::string> args) {
  std::vector<std::string> words{"scheduler"};
  words.insert(words.end(), args);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  return sched::parse_options(static_cast<int>(words.size()), argv.data());
}

std::string usage_error(std::initializer_list<std::string> args) {
  try {
    parse(args);
  } catch (const sched::UsageError& e) {
    return e.what();
  }
  return "";
}

// Sets or unsets JOBLINE_CONFIG for one test.
class EnvGuard {
 public:
  explicit EnvGuard(const char* value) {
    if (const char* old = std::getenv("JOBLINE_CONFIG")) old_ = old, had_ = true;
    if (value != nullptr) {
      ::setenv("JOBLINE_CONFIG", value, 1);
    } else {
      ::unsetenv("JOBLINE_CONFIG");
    }
  }
  ~EnvGuard() {
    if (had_) {
      ::setenv("JOBLINE_CONFIG", old_.c_str(), 1);
    } else {
      ::unsetenv("JOBLINE_CONFIG");
    }
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(Options, Defaults) {
  EnvGuard env(nullptr);
  auto o = parse({});
  EXPECT_EQ(o.config_dir, sched::default_conf_dir());
  EXPECT_FALSE(o.config_dir.empty());
  EXPECT_FALSE(o.daemon);
  EXPECT_FALSE(o.log.has_value());
  EXPECT_EQ(o.verbose, 0);
  EXPECT_FALSE(o.db.has_value());
  EXPECT_EQ(o.db_wait, 60);
  EXPECT_FALSE(o.init_db || o.reset || o.test || o.test_then_run || o.help || o.version);
  EXPECT_FALSE(o.port.has_value());
  EXPECT_EQ(o.pidfile, "");
  EXPECT_EQ(o.help_text, sched::help_text());
}

TEST(Options, ConfigDirFromEnvironmentThenOption) {
  EnvGuard env("/from/env");
  EXPECT_EQ(parse({}).config_dir, "/from/env");
  EXPECT_EQ(parse({"-c", "/from/option"}).config_dir, "/from/option");
  EXPECT_EQ(parse({"--config=/long"}).config_dir, "/long");
}

TEST(Options, EmptyEnvironmentVariableMeansUnset) {
  EnvGuard env("");
  EXPECT_EQ(parse({}).config_dir, sched::default_conf_dir());
}

TEST(Options, EveryShortOption) {
  auto o = parse({"-d", "-L", "stdout", "-v", "2", "-R", "-T", "-p", "4000", "-c", "/c"});
  EXPECT_TRUE(o.daemon);
  EXPECT_EQ(o.log, "stdout");
  EXPECT_EQ(o.verbose, 2);
  EXPECT_TRUE(o.reset);
  EXPECT_TRUE(o.test_then_run);
  EXPECT_EQ(o.port, 4000);
  EXPECT_EQ(o.config_dir, "/c");
  EXPECT_TRUE(parse({"-t"}).test);
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_EQ(parse({"-v3"}).verbose, 3);
}

TEST(Options, EveryLongOption) {
  auto o = parse({"--daemon", "--log=/tmp/s.log", "--verbose", "1", "--db", "dbname=x host=y",
                  "--init-db", "--reset", "--test-then-run", "--port=1", "--pidfile", "/run/s.pid",
                  "--help", "--version", "--db-wait", "5"});
  EXPECT_TRUE(o.daemon);
  EXPECT_EQ(o.log, "/tmp/s.log");
  EXPECT_EQ(o.verbose, 1);
  EXPECT_EQ(o.db, "dbname=x host=y");
  EXPECT_TRUE(o.init_db);
  EXPECT_EQ(o.db_wait, 5);
  EXPECT_EQ(parse({"--db-wait=0"}).db_wait, 0);  // 0: one attempt, no waiting
  EXPECT_TRUE(o.reset);
  EXPECT_TRUE(o.test_then_run);
  EXPECT_EQ(o.port, 1);
  EXPECT_EQ(o.pidfile, "/run/s.pid");
  EXPECT_TRUE(o.help);
  EXPECT_TRUE(o.version);
  EXPECT_TRUE(parse({"--test"}).test);
  EXPECT_EQ(parse({"--port", "65535"}).port, 65535);
}

TEST(Options, EmptyDbIsAllowed) {  // "" = the PG* environment only
  EXPECT_EQ(parse({"--db", ""}).db, "");
}

struct BadCase {
  std::initializer_list<std::string> args;
  const char* message;
};

TEST(Options, BadInputIsOneLineNamingTheOption) {
  const BadCase cases[] = {
      {{"-p", "0"}, "--port: '0' is out of range; expected an integer from 1 to 65535"},
      {{"--port=65536"}, "--port: '65536' is out of range; expected an integer from 1 to 65535"},
      {{"-p", "http"}, "--port: 'http' is not an integer; expected an integer from 1 to 65535"},
      {{"-p", "99999999999999999999"},
       "--port: '99999999999999999999' is out of range; expected an integer from 1 to 65535"},
      {{"-v", "-1"}, "--verbose: '-1' is out of range; expected an integer >= 0"},
      {{"-v", "lots"}, "--verbose: 'lots' is not an integer; expected an integer >= 0"},
      {{"--db-wait", "-1"}, "--db-wait: '-1' is out of range; expected an integer from 0 to 86400"},
      {{"--db-wait", "86401"},
       "--db-wait: '86401' is out of range; expected an integer from 0 to 86400"},
      {{"--db-wait=1m"}, "--db-wait: '1m' is not an integer; expected an integer from 0 to 86400"},
      {{"-p"}, "the required argument for option '--port' is missing (see --help)"},
      {{"--bogus"}, "unrecognised option '--bogus'; expected an option from --help"},
      {{"--conf=/x"}, "unrecognised option '--conf=/x'; expected an option from --help"},
      {{"stray"}, "'stray': unexpected argument; expected only options (see --help)"},
      {{"-c", ""}, "--config: empty; expected a configuration directory"},
      {{"-L", ""}, "--log: empty; expected a file, 'stdout' or 'stderr'"},
      {{"--pidfile", ""}, "--pidfile: empty; expected a file name"},
      {{"-t", "-T"}, "-t/--test and -T/--test-then-run: given together; expected one of them"},
      {{"-t", "-d"},
       "-t/--test and -d/--daemon: given together; expected -t in the foreground (or -T to "
       "test, then run as a daemon)"},
  };
  for (const auto& tc : cases) {
    std::string joined;
    for (const auto& a : tc.args) joined += a + " ";
    EXPECT_EQ(usage_error(tc.args), tc.message) << "args: " << joined;
  }
}

TEST(Options, HelpListsEveryOptionSignalsAndEnvironment) {
  std::string h = sched::help_text();
  const std::string conf_dir = sched::default_conf_dir();
  const std::vector<std::string> words{"-c [ --config ] DIR",
                                       "-d [ --daemon ]",
                                       "-L [ --log ] FILE",
                                       "-v [ --verbose ] N",
                                       "--db CONNINFO",
                                       "--init-db",
                                       "--db-wait SECONDS",
                                       "-R [ --reset ]",
                                       "-t [ --test ]",
                                       "-T [ --test-then-run ]",
                                       "-p [ --port ] N",
                                       "--pidfile FILE",
                                       "-h [ --help ]",
                                       "--version",
                                       "JOBLINE_CONFIG",
                                       "TERM",
                                       "QUIT",
                                       "HUP",
                                       "INT",
                                       "24693",
                                       sched::default_conf_dir().c_str(),
                                       "scheduler.conf",
                                       "Db.conf"};
  for (const auto& word : words) {
    EXPECT_NE(h.find(word), std::string::npos) << "help lacks " << word << ":\n" << h;
  }
  EXPECT_EQ(h.rfind("Usage: scheduler [options]\n", 0), 0u);
}

TEST(Options, VersionNamesTheProgram) {
  EXPECT_EQ(sched::version_text().rfind("scheduler (jobline) ", 0), 0u);
}

}  // namespace
