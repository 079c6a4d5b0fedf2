// Bad input, part 1: scheduler.conf, Db.conf and the command line, each run through the real
// `scheduler` binary. A row is a conf dir and an argv; it asserts the exit status (2 usage,
// 3 configuration, 4 database; see `scheduler --help`) and the whole output: one line naming
// file:line and key, or the option. Rows that only warn assert the warning lines and exit 0.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bad_input_util.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using test::bad_input::fill;

const std::string kDirectory = "<a directory>";  // a file's text: make a directory instead
const std::string kHosts = "[hosts]\nlocalhost = localhost {agents} 2\n";
const std::string kTryHelp = "Try 'scheduler --help' for more information.";

struct ConfRow {
  std::string name;
  std::map<std::string, std::string> files;  // path in the conf dir -> text ({dir} {agents})
  std::vector<std::string> args;             // after the program name ({dir})
  int exit_code = 3;
  std::vector<std::string> output;      // the whole output, line by line ({dir})
  std::vector<std::string> warnings{};  // for rows that only warn: every WARNING message
};

// A row reading `scheduler_conf` with -c DIR -t; it fails with exit 3 and one line.
ConfRow conf(std::string name, std::string scheduler_conf, std::string line) {
  return {std::move(name),
          {{"scheduler.conf", std::move(scheduler_conf)}},
          {"-c", "{dir}", "-t"},
          3,
          {"scheduler: {dir}/" + std::move(line)}};
}
// A row that loads with a warning: -t still runs the good agent type and exits 0.
ConfRow warns(std::string name, std::string scheduler_conf, std::string warning) {
  return {std::move(name),
          {{"scheduler.conf", std::move(scheduler_conf)}},
          {"-c", "{dir}", "-t"},
          0,
          {},
          {"{dir}/" + std::move(warning)}};
}
// A usage error: exit 2, the line and the hint.
ConfRow usage(std::string name, std::vector<std::string> args, std::string line) {
  return {std::move(name), {}, std::move(args), 2, {"scheduler: " + std::move(line), kTryHelp}};
}
// A Db.conf read because scheduler.conf has no [database].
ConfRow db_conf(std::string name, std::string text, std::string line) {
  return {std::move(name),
          {{"Db.conf", std::move(text)}},
          {"-c", "{dir}", "-t"},
          3,
          {"scheduler: {dir}/" + std::move(line)}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void PrintTo(const ConfRow& row, std::ostream* os) {
  *os << row.name;
}

class ConfTable : public ::testing::TestWithParam<ConfRow> {};

TEST_P(ConfTable, ExitsWithTheOneLineError) {
  const ConfRow& row = GetParam();
  test::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> values{
      {"dir", dir.path()}, {"agents", test::build_dir() + "/tests/agents"}};
  std::map<std::string, std::string> files{
      {"scheduler.conf", kHosts},
      {"agents/ok.conf", "[default]\ncommand = {agents}/fake_agent/fake_agent\n"}};
  for (const auto& [path, text] : row.files) files[path] = text;
  for (const auto& [path, text] : files) {
    fs::path p = fs::path(dir.path()) / path;
    fs::create_directories(p.parent_path());
    if (text == kDirectory)
      fs::create_directory(p);
    else if (text != "<none>")
      std::ofstream(p) << fill(text, values);
  }
  std::vector<std::string> argv{test::build_dir() + "/scheduler/scheduler"};
  for (const auto& a : row.args) argv.push_back(fill(a, values));
  auto result = test::run(argv, {{"JOBLINE_CONFIG", ""}}, std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code(), row.exit_code) << result.output;
  if (row.exit_code != 0) {
    std::vector<std::string> expected;
    for (const auto& l : row.output) expected.push_back(fill(l, values));
    EXPECT_EQ(lines_of(result.output), expected);
  } else {
    std::vector<std::string> expected;
    for (const auto& w : row.warnings) expected.push_back(fill(w, values));
    EXPECT_EQ(test::bad_input::messages_at(result.output, "WARNING"), expected) << result.output;
  }
}

const std::string kSeconds = "(fractions allowed, at most 31536000)";

INSTANTIATE_TEST_SUITE_P(
    SchedulerConf, ConfTable,
    ::testing::Values(
        conf("Syntax", "[scheduler]\nport = 1\nnot a key\n" + kHosts,
             "scheduler.conf:3: syntax: 'not a key' is not a comment, [group] or key = value; "
             "expected a GLib key file line"),
        conf("BadGroupLine", "[a]b]\n" + kHosts,
             "scheduler.conf:1: syntax: Key file contains line “[a]b]” which is not a key-value "
             "pair, group, or comment; expected a GLib key file line"),
        conf("PortOutOfRange", "[scheduler]\nport = 70000\n" + kHosts,
             "scheduler.conf:2: [scheduler] port: '70000' is out of range; expected an integer "
             "from 1 to 65535"),
        conf("PortNotANumber", "[scheduler]\nport = http\n" + kHosts,
             "scheduler.conf:2: [scheduler] port: 'http' is not an integer; expected an integer "
             "from 1 to 65535"),
        conf("PortWithAnEscapedNewline", "[scheduler]\nport = 1\\n2\n" + kHosts,
             "scheduler.conf:2: [scheduler] port: '1\\n2' is not an integer; expected an integer "
             "from 1 to 65535"),
        conf("PortNotUtf8", "[scheduler]\nport = \xff\xfe\n" + kHosts,
             "scheduler.conf:2: [scheduler] port: Key file contains key “port” with value "
             "“\xef\xbf\xbd\xef\xbf\xbd” which is not UTF-8; expected a valid key file value"),
        conf("StartupTimeoutNegative", "[scheduler]\nstartup_timeout = -1\n" + kHosts,
             "scheduler.conf:2: [scheduler] startup_timeout: '-1' is out of range; expected a "
             "number of seconds > 0 " +
                 kSeconds),
        conf("HeartbeatTimeoutText", "[scheduler]\nheartbeat_timeout = soon\n" + kHosts,
             "scheduler.conf:2: [scheduler] heartbeat_timeout: 'soon' is not a number; expected "
             "a number of seconds > 0 " +
                 kSeconds),
        conf("KillGraceExponent", "[scheduler]\n\nkill_grace = 1e3\n" + kHosts,
             "scheduler.conf:3: [scheduler] kill_grace: '1e3' is not a number; expected a number "
             "of seconds >= 0 " +
                 kSeconds),
        conf("PollIntervalZero", "[scheduler]\npoll_interval = 0\n" + kHosts,
             "scheduler.conf:2: [scheduler] poll_interval: '0' is out of range; expected a "
             "number of seconds > 0 " +
                 kSeconds),
        conf("MaxFailuresZero", "[scheduler]\nmax_failures = 0\n" + kHosts,
             "scheduler.conf:2: [scheduler] max_failures: '0' is out of range; expected an "
             "integer >= 1"),
        conf("SshCommandUnbalancedQuote", "[scheduler]\nssh_command = ssh 'x\n" + kHosts,
             "scheduler.conf:2: [scheduler] ssh_command: 'ssh 'x': Text ended before matching "
             "quote was found for '. (The text was “ssh 'x”); expected a command line (words, "
             "\"quoted\" or 'quoted')"),
        conf("ListenEmpty", "[scheduler]\nlisten =\n" + kHosts,
             "scheduler.conf:2: [scheduler] listen: empty; expected an IP address or host name"),
        conf("HostsMissing", "[scheduler]\nport = 24693\n",
             "scheduler.conf:2: [hosts]: group missing, so no host defined; expected at least "
             "one line 'name = address agentdir max' in [hosts]"),
        conf("HostTwoFields", "[hosts]\nlocalhost = localhost /usr/lib/jobline/agents\n",
             "scheduler.conf:2: [hosts] localhost: 2 field(s) instead of 3; expected 'address "
             "agentdir max', e.g. 'localhost /usr/lib/jobline/agents 8'"),
        conf("HostRelativeAgentdir", "[hosts]\nlocalhost = localhost agents 2\n",
             "scheduler.conf:2: [hosts] localhost: agent directory 'agents' is not absolute; "
             "expected an absolute directory as the second field"),
        conf("HostMaxNegative", "[hosts]\nlocalhost = localhost /a -1\n",
             "scheduler.conf:2: [hosts] localhost: '-1' is out of range; expected an integer "
             ">= 0"),
        conf("RepositoryUnknownHost", kHosts + "[repository]\nelsewhere = 00 ff\n",
             "scheduler.conf:4: [repository] elsewhere: host 'elsewhere' is not in [hosts]; "
             "expected a host named in [hosts]"),
        conf("RepositoryNotHex", kHosts + "[repository]\nlocalhost = 00 zz\n",
             "scheduler.conf:4: [repository] localhost: '00 zz' is not a range; expected 'LO "
             "HI': two hex bytes 00..ff with LO <= HI, e.g. '00 7f'"),
        conf("RepositoryBackwards", kHosts + "[repository]\nlocalhost = 80 10\n",
             "scheduler.conf:4: [repository] localhost: '80 10': LO is above HI; expected 'LO "
             "HI': two hex bytes 00..ff with LO <= HI, e.g. '00 7f'"),
        conf("ListenNotLoopbackWithoutToken", "[scheduler]\nlisten = 0.0.0.0\n" + kHosts,
             "scheduler.conf:2: [scheduler] listen: '0.0.0.0' is not a loopback address and no "
             "auth_token is set; expected a loopback listen address (127.0.0.1, ::1, localhost) "
             "or [scheduler] auth_token"),
        conf("AuthTokenEmpty", "[scheduler]\nauth_token =\n" + kHosts,
             "scheduler.conf:2: [scheduler] auth_token: empty; expected a secret that TCP "
             "clients send as 'auth <token>'"),
        conf("AuthTokenTwoWords", "[scheduler]\nauth_token = a b\n" + kHosts,
             "scheduler.conf:2: [scheduler] auth_token: holds a space or tab; expected one word"),
        conf("UserEmpty", "[scheduler]\nuser =\n" + kHosts,
             "scheduler.conf:2: [scheduler] user: empty; expected a user name, e.g. 'jobline'"),
        conf("Missing", "<none>",
             "scheduler.conf: cannot read the file: No such file or directory; expected a "
             "readable file"),
        conf("ADirectory", kDirectory,
             "scheduler.conf: cannot read the file: Is a directory; expected a readable file"),
        conf("LogUnwritable", "[scheduler]\nlog = /nonexistent/dir/x.log\n" + kHosts,
             "scheduler.conf: [scheduler] log: cannot open log file '/nonexistent/dir/x.log': No "
             "such file or directory"),
        warns("UnknownKey", "[scheduler]\nprot = 1\n" + kHosts,
              "scheduler.conf:2: [scheduler] prot: unknown key, ignored; expected one of "
              "auth_token, heartbeat_timeout, kill_grace, listen, log, log_dir, max_failures, "
              "poll_interval, port, socket, ssh_command, startup_timeout, user"),
        warns("UnknownGroup", kHosts + "[shceduler]\n",
              "scheduler.conf:3: [shceduler]: unknown group, ignored; expected one of "
              "[database], [hosts], [repository], [scheduler], [web]"),
        warns("DuplicateKey", "[scheduler]\nport = 1\nport = 2\n" + kHosts,
              "scheduler.conf:3: [scheduler] port: key given more than once; expected it once "
              "(this last one is used)")),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    DbConf, ConfTable,
    ::testing::Values(
        db_conf("NotAPair", "dbname=jobline;\njunk here\n",
                "Db.conf:2: 'junk here': not one key=value pair; expected 'key=value;', e.g. "
                "'dbname=jobline;'"),
        db_conf("TwoPairsOnALine", "# two\ndbname=x;host=y;\n",
                "Db.conf:2: 'dbname=x;host=y;': not one key=value pair; expected 'key=value;', "
                "e.g. 'dbname=jobline;'"),
        db_conf("NoKey", "=jobline;\n",
                "Db.conf:1: '=jobline;': not one key=value pair; expected 'key=value;', e.g. "
                "'dbname=jobline;'"),
        db_conf("ADirectory", kDirectory,
                "Db.conf: cannot read the file: Is a directory; expected a readable file"),
        ConfRow{
            "NoServerThere",
            {{"Db.conf", "host=/nonexistent;\ndbname=jobline;\n"}},
            {"-c", "{dir}", "--init-db", "--db-wait", "0"},
            4,
            {"scheduler: --init-db: cannot connect to the database at host=/nonexistent port=5432 "
             "dbname=jobline: connection to server on "
             "socket \"/nonexistent/.s.PGSQL.5432\" failed: No such file or directory; Is the "
             "server running locally and accepting connections on that socket? (conninfo "
             "from {dir}/Db.conf)"}}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Options, ConfTable,
    ::testing::Values(
        usage("PortOutOfRange", {"--port", "70000"},
              "--port: '70000' is out of range; expected an integer from 1 to 65535"),
        usage("PortNotANumber", {"-p", "0x10"},
              "--port: '0x10' is not an integer; expected an integer from 1 to 65535"),
        usage("PortWithoutValue", {"--port"},
              "the required argument for option '--port' is missing (see --help)"),
        usage("PortTwice", {"-p", "1", "-p", "2"},
              "option '--port' cannot be specified more than once (see --help)"),
        usage("VerboseNegative", {"-v", "-1"},
              "--verbose: '-1' is out of range; expected an integer >= 0"),
        usage("UnknownOption", {"--bogus"},
              "unrecognised option '--bogus'; expected an option from --help"),
        usage("StrayArgument", {"start"},
              "'start': unexpected argument; expected only options (see --help)"),
        usage("HelpWithValue", {"--help=x"},
              "option '--help' does not take any arguments (see --help)"),
        usage("TestAndTestThenRun", {"-t", "-T"},
              "-t/--test and -T/--test-then-run: given together; expected one of them"),
        usage("TestAsDaemon", {"-t", "-d"},
              "-t/--test and -d/--daemon: given together; expected -t in the foreground (or -T "
              "to test, then run as a daemon)"),
        usage("EmptyConfig", {"--config", ""},
              "--config: empty; expected a configuration directory"),
        usage("EmptyPidfile", {"--pidfile", ""}, "--pidfile: empty; expected a file name"),
        ConfRow{"LogUnwritable",
                {},
                {"-c", "{dir}", "-t", "-L", "/nonexistent/dir/x.log"},
                3,
                {"scheduler: --log: cannot open log file '/nonexistent/dir/x.log': No such file "
                 "or directory"}},
        ConfRow{"ConfigDirMissing",
                {},
                {"-c", "{dir}/nowhere", "-t"},
                3,
                {"scheduler: {dir}/nowhere/scheduler.conf: cannot read the file: No such file or "
                 "directory; expected a readable file"}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
