// Unit tests of sched::load_config (common/config.hpp): defaults, every value check with
// the exact "<path>:<line>" of its message, Db.conf, agent confs left out with warnings.
#include "config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "conf_dir.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test::ConfDir;
using test::kMinimal;

TEST(Config, MinimalFileGivesTheDocumentedDefaults) {
  ConfDir d;
  auto c = d.load();
  EXPECT_EQ(c.conf_dir, d.path());
  EXPECT_EQ(c.listen, "127.0.0.1");
  EXPECT_EQ(c.port, 24693);
  EXPECT_EQ(c.socket, "");
  EXPECT_EQ(c.log, "");
  EXPECT_EQ(c.startup_timeout, 60s);
  EXPECT_EQ(c.heartbeat_timeout, 180s);
  EXPECT_EQ(c.kill_grace, 5s);
  EXPECT_EQ(c.poll_interval, 30s);
  EXPECT_EQ(c.max_failures, 3);
  EXPECT_EQ(c.ssh_command, (std::vector<std::string>{"ssh", "-o", "BatchMode=yes"}));
  EXPECT_EQ(c.conninfo, "");
  EXPECT_EQ(c.conninfo_source, "environment");
  EXPECT_FALSE(c.log_dir.empty());
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].name, "localhost");
  EXPECT_EQ(c.hosts[0].address, "localhost");
  EXPECT_EQ(c.hosts[0].agentdir, "/opt/agents");
  EXPECT_EQ(c.hosts[0].max, 4);
  EXPECT_TRUE(c.hosts[0].local());
  EXPECT_TRUE(c.repository.empty());
  EXPECT_TRUE(c.agents.empty());
  ASSERT_EQ(c.warnings.size(), 1u);  // no agent type
  EXPECT_EQ(c.warnings[0], d.path("agents") + ": no agent type loaded; expected <name>.conf files");
}

TEST(Config, SpecExampleLoadsEveryKey) {
  ConfDir d(
      "# comment\n[scheduler]\nlisten = 0.0.0.0\nport = 4000\nsocket = run/s.sock\n"
      "log = /var/log/j/scheduler.log\nstartup_timeout = 1.5\nheartbeat_timeout = 2\n"
      "kill_grace = 0.5\npoll_interval = 0.25\nmax_failures = 7\n"
      "ssh_command = ssh -F '/my config' -o BatchMode=yes\n"
      "[database]\nconninfo = dbname=jobline host=db\n"
      "[hosts]\nzeta = localhost /a 8\nalpha = alpha.example.org /b 0\n"
      "[repository]\nzeta = 00 7f\nalpha = 80 ff\n");
  auto c = d.load();
  EXPECT_EQ(c.listen, "0.0.0.0");
  EXPECT_EQ(c.port, 4000);
  EXPECT_EQ(c.socket, d.path("run/s.sock"));  // relative to the conf dir
  EXPECT_EQ(c.log, "/var/log/j/scheduler.log");
  EXPECT_EQ(c.log_dir, "/var/log/j");  // the directory of `log`
  EXPECT_EQ(c.startup_timeout, 1500ms);
  EXPECT_EQ(c.heartbeat_timeout, 2000ms);
  EXPECT_EQ(c.kill_grace, 500ms);
  EXPECT_EQ(c.poll_interval, 250ms);
  EXPECT_EQ(c.max_failures, 7);
  EXPECT_EQ(c.ssh_command,
            (std::vector<std::string>{"ssh", "-F", "/my config", "-o", "BatchMode=yes"}));
  EXPECT_EQ(c.conninfo, "dbname=jobline host=db");
  EXPECT_EQ(c.conninfo_source, d.path("scheduler.conf") + ":14");
  ASSERT_EQ(c.hosts.size(), 2u);  // file order, not alphabetical
  EXPECT_EQ(c.hosts[0].name, "zeta");
  EXPECT_EQ(c.hosts[1].name, "alpha");
  EXPECT_FALSE(c.hosts[1].local());
  EXPECT_EQ(c.hosts[1].max, 0);
  ASSERT_EQ(c.repository.size(), 2u);
  EXPECT_EQ(c.repository[0].host, "zeta");
  EXPECT_EQ(c.repository[0].lo, 0u);
  EXPECT_EQ(c.repository[0].hi, 0x7fu);
  EXPECT_EQ(c.repository[1].lo, 0x80u);
  EXPECT_EQ(c.repository[1].hi, 0xffu);
  ASSERT_NE(c.host("alpha"), nullptr);
  EXPECT_EQ(c.host("alpha")->address, "alpha.example.org");
  EXPECT_EQ(c.host("nope"), nullptr);
}

TEST(Config, LogDirKeyAndStdTargets) {
  ConfDir d(std::string("[scheduler]\nlog = stdout\nlog_dir = logs\n") + kMinimal);
  auto c = d.load();
  EXPECT_EQ(c.log, "stdout");
  EXPECT_EQ(c.log_dir, d.path("logs"));
}

TEST(Config, ZeroKillGraceIsAllowed) {
  ConfDir d(std::string("[scheduler]\nkill_grace = 0\n") + kMinimal);
  EXPECT_EQ(d.load().kill_grace, 0ms);
}

TEST(Config, RelativeConfDirBecomesAbsolute) {
  ConfDir d;
  auto cwd = fs::current_path();
  fs::current_path(fs::path(d.path()).parent_path());
  auto c = sched::load_config(fs::path(d.path()).filename().string() + "/");
  fs::current_path(cwd);
  EXPECT_EQ(c.conf_dir, d.path());
}

TEST(Config, MissingSchedulerConfNamesThePath) {
  test::TempDir dir;
  try {
    sched::load_config(dir.path());
    FAIL() << "loaded a conf dir without scheduler.conf";
  } catch (const sched::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path() +
                                         "/scheduler.conf: cannot read the file: No such file or "
                                         "directory; expected a readable file");
  }
}

struct BadCase {
  const char* name;
  const char* text;
  const char* message;  // after "<dir>/scheduler.conf:"
};

class BadSchedulerConf : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSchedulerConf, FailsWithFileLineAndExpectation) {
  ConfDir d(GetParam().text);
  EXPECT_EQ(d.error(), d.path("scheduler.conf") + ":" + GetParam().message);
}

const std::string kHosts = "[hosts]\nh = localhost /a 1\n";  // lines n, n+1

INSTANTIATE_TEST_SUITE_P(
    Table, BadSchedulerConf,
    ::testing::Values(
        BadCase{"PortZero", "[scheduler]\n#c\nport = 0\n[hosts]\nh = localhost /a 1\n",
                "3: [scheduler] port: '0' is out of range; expected an integer from 1 to 65535"},
        BadCase{"PortHigh", "[scheduler]\nport = 65536\n[hosts]\nh = localhost /a 1\n",
                "2: [scheduler] port: '65536' is out of range; expected an integer from 1 to "
                "65535"},
        BadCase{"PortText", "[scheduler]\nport = 80x\n[hosts]\nh = localhost /a 1\n",
                "2: [scheduler] port: '80x' is not an integer; expected an integer from 1 to "
                "65535"},
        BadCase{"StartupZero", "[scheduler]\n\nstartup_timeout = 0\n[hosts]\nh = localhost /a 1\n",
                "3: [scheduler] startup_timeout: '0' is out of range; expected a number of "
                "seconds > 0 (fractions allowed, at most 31536000)"},
        BadCase{"HeartbeatNegative", "[scheduler]\nheartbeat_timeout = -1\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] heartbeat_timeout: '-1' is out of range; expected a number of "
                "seconds > 0 (fractions allowed, at most 31536000)"},
        BadCase{"KillGraceNegative", "[scheduler]\nkill_grace = -0.5\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] kill_grace: '-0.5' is out of range; expected a number of "
                "seconds >= 0 (fractions allowed, at most 31536000)"},
        BadCase{"PollText", "[scheduler]\npoll_interval = soon\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] poll_interval: 'soon' is not a number; expected a number of "
                "seconds > 0 (fractions allowed, at most 31536000)"},
        BadCase{"PollTiny", "[scheduler]\npoll_interval = 0.0001\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] poll_interval: '0.0001' is out of range; expected a number of "
                "seconds > 0 (fractions allowed, at most 31536000)"},
        BadCase{"PollHuge", "[scheduler]\npoll_interval = 1e99\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] poll_interval: '1e99' is not a number; expected a number of "
                "seconds > 0 (fractions allowed, at most 31536000)"},
        BadCase{"MaxFailuresZero", "[scheduler]\nmax_failures = 0\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] max_failures: '0' is out of range; expected an integer >= 1"},
        BadCase{"ListenEmpty", "[scheduler]\nlisten =\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] listen: empty; expected an IP address or host name"},
        BadCase{"SshUnbalanced", "[scheduler]\nssh_command = ssh 'oops\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] ssh_command: 'ssh 'oops': Text ended before matching quote was "
                "found for '. (The text was “ssh 'oops”); expected a command line (words, "
                "\"quoted\" or 'quoted')"},
        BadCase{"SshEmpty", "[scheduler]\nssh_command =\n[hosts]\nh = x /a 1\n",
                "2: [scheduler] ssh_command: '': Text was empty (or contained only whitespace); "
                "expected a command line (words, \"quoted\" or 'quoted')"},
        BadCase{"HostTwoFields", "[hosts]\n# x\nh = localhost /a\n",
                "3: [hosts] h: 2 field(s) instead of 3; expected 'address agentdir max', e.g. "
                "'localhost /usr/lib/jobline/agents 8'"},
        BadCase{"HostFourFields", "[hosts]\nh = localhost /a 1 2\n",
                "2: [hosts] h: 4 field(s) instead of 3; expected 'address agentdir max', e.g. "
                "'localhost /usr/lib/jobline/agents 8'"},
        BadCase{"HostMaxNegative", "[hosts]\nh = localhost /a -1\n",
                "2: [hosts] h: '-1' is out of range; expected an integer >= 0"},
        BadCase{"HostMaxText", "[hosts]\nok = localhost /a 1\nh = localhost /a many\n",
                "3: [hosts] h: 'many' is not an integer; expected an integer >= 0"},
        BadCase{"HostRelativeDir", "[hosts]\nh = localhost agents 1\n",
                "2: [hosts] h: agent directory 'agents' is not absolute; expected an absolute "
                "directory as the second field"},
        BadCase{"NoHostsGroup", "[scheduler]\nport = 1\n",
                "2: [hosts]: group missing, so no host defined; expected at least one line "
                "'name = address agentdir max' in [hosts]"},
        BadCase{"EmptyHosts", "[scheduler]\n[hosts]\n# none\n",
                "2: [hosts]: no host defined; expected at least one line 'name = address "
                "agentdir max' in [hosts]"},
        BadCase{"RepoBadHex", "[hosts]\nh = x /a 1\n[repository]\nh = 0g ff\n",
                "4: [repository] h: '0g ff' is not a range; expected 'LO HI': two hex bytes "
                "00..ff with LO <= HI, e.g. '00 7f'"},
        BadCase{"RepoThreeDigits", "[hosts]\nh = x /a 1\n[repository]\nh = 000 ff\n",
                "4: [repository] h: '000 ff' is not a range; expected 'LO HI': two hex bytes "
                "00..ff with LO <= HI, e.g. '00 7f'"},
        BadCase{"RepoOneField", "[hosts]\nh = x /a 1\n[repository]\nh = 00\n",
                "4: [repository] h: '00' is not a range; expected 'LO HI': two hex bytes "
                "00..ff with LO <= HI, e.g. '00 7f'"},
        BadCase{"RepoReversed", "[hosts]\nh = x /a 1\n[repository]\n\nh = 80 7f\n",
                "5: [repository] h: '80 7f': LO is above HI; expected 'LO HI': two hex bytes "
                "00..ff with LO <= HI, e.g. '00 7f'"},
        BadCase{"RepoUnknownHost", "[hosts]\nh = x /a 1\n[repository]\nother = 00 ff\n",
                "4: [repository] other: host 'other' is not in [hosts]; expected a host named "
                "in [hosts]"},
        BadCase{"SyntaxNotKeyValue", "[scheduler]\nport = 1\nthis is wrong\n[hosts]\nh = x /a 1\n",
                "3: syntax: 'this is wrong' is not a comment, [group] or key = value; expected a "
                "GLib key file line"},
        BadCase{"SyntaxKeyBeforeGroup", "# top\nport = 1\n[hosts]\nh = x /a 1\n",
                "2: syntax: 'port = 1' is not a comment, [group] or key = value; expected a "
                "GLib key file line"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(Config, UnknownKeysGroupsAndDuplicatesAreWarnings) {
  ConfDir d("[scheduler]\nprot = 1\nport = 5\nport = 6\n[extra]\na = b\n[hosts]\nh = x /a 1\n");
  auto c = d.load();
  EXPECT_EQ(c.port, 6);  // the last one wins, as in GKeyFile
  std::string f = d.path("scheduler.conf");
  ASSERT_GE(c.warnings.size(), 3u);
  EXPECT_EQ(c.warnings[0], f + ":2: [scheduler] prot: unknown key, ignored; expected one of "
                               "auth_token, heartbeat_timeout, kill_grace, listen, log, log_dir, "
                               "max_failures, poll_interval, port, socket, ssh_command, "
                               "startup_timeout, user");
  EXPECT_EQ(c.warnings[1], f + ":5: [extra]: unknown group, ignored; expected one of [database], "
                               "[hosts], [repository], [scheduler], [web]");
  EXPECT_EQ(c.warnings[2],
            f + ":4: [scheduler] port: key given more than once; expected it once (this last "
                "one is used)");
}

// ---- Db.conf --------------------------------------------------------------------------------

TEST(DbConf, FossologyFormatBecomesConninfo) {
  EXPECT_EQ(sched::parse_db_conf("dbname=fossology;\nhost=localhost;\n# comment\n\n"
                                 "user = fossy ;\npassword=fossy\n",
                                 "Db.conf"),
            "dbname=fossology host=localhost user=fossy password=fossy");
  EXPECT_EQ(sched::parse_db_conf("", "Db.conf"), "");
}

TEST(DbConf, BadLineNamesFileAndLine) {
  try {
    sched::parse_db_conf("dbname=x;\n\nnonsense\n", "/c/Db.conf");
    FAIL();
  } catch (const sched::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/c/Db.conf:3: 'nonsense': not one key=value pair; "
              "expected 'key=value;', e.g. 'dbname=jobline;'");
  }
  EXPECT_THROW(sched::parse_db_conf("dbname=x;host=y;\n", "Db.conf"), sched::ConfigError);
  EXPECT_THROW(sched::parse_db_conf("=x;\n", "Db.conf"), sched::ConfigError);
}

TEST(DbConf, UsedWhenNoDatabaseGroupAndOverriddenByIt) {
  ConfDir d;
  d.write("Db.conf", "dbname=jobline;\nhost=/tmp;\n");
  auto c = d.load();
  EXPECT_EQ(c.conninfo, "dbname=jobline host=/tmp");
  EXPECT_EQ(c.conninfo_source, d.path("Db.conf"));
  d.write("scheduler.conf", std::string("[database]\nconninfo = dbname=other\n") + kMinimal);
  EXPECT_EQ(d.load().conninfo, "dbname=other");
  d.write("Db.conf", "broken\n");  // not read when [database] has conninfo
  EXPECT_EQ(d.load().conninfo, "dbname=other");
  d.write("scheduler.conf", kMinimal);
  EXPECT_EQ(d.error(), d.path("Db.conf") +
                           ":1: 'broken': not one key=value pair; expected "
                           "'key=value;', e.g. 'dbname=jobline;'");
}

// ---- agents/*.conf --------------------------------------------------------------------------

TEST(AgentConf, LoadsEveryKey) {
  ConfDir d;
  d.write("agents/copyright.conf",
          "# the copyright agent\n[default]\ncommand = copyright --flag \"two words\"\n"
          "max = 4\nspecial = NOKILL;EXCLUSIVE\nallow_db = true\nconfig_dir = fossology\n");
  auto c = d.load();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  const sched::AgentType* a = c.agent("copyright");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "copyright");
  EXPECT_EQ(a->command, (std::vector<std::string>{"copyright", "--flag", "two words"}));
  EXPECT_EQ(a->max, 4);
  EXPECT_EQ(a->special, unsigned{sched::kNokill | sched::kExclusive});
  EXPECT_TRUE(a->has(sched::kNokill));
  EXPECT_FALSE(a->has(sched::kLocal));
  EXPECT_TRUE(a->allow_db);
  EXPECT_EQ(a->config_dir, d.path("fossology"));
  EXPECT_EQ(a->conf_path, d.path("agents/copyright.conf"));
}

TEST(AgentConf, DefaultsAndBinaryResolution) {
  ConfDir d;
  d.write("agents/example.conf", "[default]\ncommand = example\n");
  d.write("agents/nomos.conf", "[default]\ncommand = /usr/share/fossology/nomos/agent/nomos -v\n");
  d.write("agents/.hidden.conf", "garbage");
  d.write("agents/readme.txt", "garbage");
  auto c = d.load();
  ASSERT_EQ(c.agents.size(), 2u);
  const auto& ex = c.agents.at("example");
  EXPECT_EQ(ex.max, -1);
  EXPECT_EQ(ex.special, 0u);
  EXPECT_FALSE(ex.allow_db);
  EXPECT_EQ(ex.config_dir, d.path());
  sched::HostConfig local{"localhost", "localhost", "/opt/agents", 2};
  sched::HostConfig remote{"r", "r.example.org", "/srv/agents", 2};
  EXPECT_EQ(ex.binary(local), "/opt/agents/example/example");
  EXPECT_EQ(ex.binary(remote), "/srv/agents/example/example");
  EXPECT_EQ(c.agents.at("nomos").binary(remote), "/usr/share/fossology/nomos/agent/nomos");
}

TEST(AgentConf, SpecialAcceptsListsSpacesCommasAndAnyCase) {
  struct Case {
    const char* value;
    unsigned bits;
  } cases[] = {
      {"EXCLUSIVE", sched::kExclusive},
      {"NOKILL;EXCLUSIVE;", sched::kNokill | sched::kExclusive},
      {"NOKILL EXCLUSIVE", sched::kNokill | sched::kExclusive},
      {"noemail, local", sched::kNoemail | sched::kLocal},
      {"NOKILL;NOEMAIL,LOCAL EXCLUSIVE",
       sched::kNokill | sched::kNoemail | sched::kLocal | sched::kExclusive},
      {"", 0},
  };
  for (const auto& tc : cases) {
    ConfDir d;
    d.write("agents/a.conf", std::string("[default]\ncommand = a\nspecial = ") + tc.value + "\n");
    auto c = d.load();
    ASSERT_NE(c.agent("a"), nullptr) << tc.value;
    EXPECT_EQ(c.agent("a")->special, tc.bits) << tc.value;
  }
}

struct BadAgent {
  const char* name;
  const char* text;
  const char* warning;  // after "<dir>/agents/bad.conf:"
};

class BadAgentConf : public ::testing::TestWithParam<BadAgent> {};

TEST_P(BadAgentConf, IsLeftOutWithAWarningAndTheOthersLoad) {
  ConfDir d;
  d.write("agents/good.conf", "[default]\ncommand = good\n");
  d.write("agents/bad.conf", GetParam().text);
  auto c = d.load();
  EXPECT_NE(c.agent("good"), nullptr);
  EXPECT_EQ(c.agent("bad"), nullptr);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0],
            d.path("agents/bad.conf") + ":" + GetParam().warning + "; agent type 'bad' left out");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadAgentConf,
    ::testing::Values(
        BadAgent{"NoDefaultGroup", "[other]\ncommand = x\n",
                 "2: [default]: group missing; expected a [default] group with at least "
                 "'command = ...'"},
        BadAgent{"NoCommand", "# c\n[default]\nmax = 1\n",
                 "2: [default] command: missing; expected 'command = <binary> [arguments]'"},
        BadAgent{"EmptyCommand", "[default]\ncommand =\n",
                 "2: [default] command: '': Text was empty (or contained only whitespace); "
                 "expected a command line (words, \"quoted\" or 'quoted')"},
        BadAgent{"UnknownSpecial", "[default]\ncommand = x\n\nspecial = NOKILL;FAST\n",
                 "4: [default] special: unknown value 'FAST'; expected a list of EXCLUSIVE, "
                 "NOKILL, NOEMAIL, LOCAL"},
        BadAgent{"MaxTooLow", "[default]\ncommand = x\nmax = -2\n",
                 "3: [default] max: '-2' is out of range; expected an integer >= -1"},
        BadAgent{"MaxText", "[default]\ncommand = x\nmax = lots\n",
                 "3: [default] max: 'lots' is not an integer; expected an integer >= -1"},
        BadAgent{"AllowDbText", "[default]\ncommand = x\nallow_db = maybe\n",
                 "3: [default] allow_db: 'maybe' is not a boolean; expected true or false"},
        BadAgent{"Syntax", "[default]\ncommand = x\n%%%\n",
                 "3: syntax: '%%%' is not a comment, [group] or key = value; expected a GLib "
                 "key file line"}),
    [](const ::testing::TestParamInfo<BadAgent>& info) { return std::string(info.param.name); });

TEST(AgentConf, LocalNeedsALocalHost) {
  ConfDir d("[hosts]\nfar = far.example.org /a 2\n");
  d.write("agents/wget.conf", "[default]\ncommand = wget\nspecial = LOCAL\n");
  auto c = d.load();
  EXPECT_EQ(c.agent("wget"), nullptr);
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0], d.path("agents/wget.conf") +
                               ":3: [default] special: LOCAL but no host in [hosts] has the "
                               "address 'localhost'; expected a local host, or no LOCAL; agent "
                               "type 'wget' left out");
}

TEST(AgentConf, UnknownKeyIsAWarningOnly) {
  ConfDir d;
  d.write("agents/a.conf", "[default]\ncommand = a\ncolour = blue\nname = ignored\n");
  auto c = d.load();
  EXPECT_NE(c.agent("a"), nullptr);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0], d.path("agents/a.conf") +
                               ":3: [default] colour: unknown key, ignored; expected one of "
                               "allow_db, command, config_dir, description, max, name, special");
}

TEST(Config, BuildTreeConfDirLoads) {
  auto c = sched::load_config(test::build_dir() + "/conf");
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_TRUE(c.hosts[0].local());
  EXPECT_EQ(c.hosts[0].agentdir, test::build_dir() + "/agents");
  EXPECT_EQ(c.log, "stderr");
  EXPECT_EQ(c.log_dir, test::build_dir() + "/log");
  const sched::AgentType* ex = c.agent("example");
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(ex->binary(c.hosts[0]), test::build_dir() + "/agents/example/example");
  for (const auto& w : c.warnings) ADD_FAILURE() << w;
}

}  // namespace

namespace {

// check_listen: the listen address resolved, and a token required off loopback.
TEST(Config, ListenMustResolveAndNeedsATokenOffLoopback) {
  for (const char* loopback : {"127.0.0.1", "127.0.0.2", "::1", "localhost"}) {
    ConfDir d(std::string("[scheduler]\nlisten = ") + loopback + "\n[hosts]\nh = x /a 1\n");
    EXPECT_NO_THROW(sched::check_listen(d.load())) << loopback;
  }
  std::string f;
  {
    ConfDir d("[scheduler]\nport = 5\nlisten = 0.0.0.0\n[hosts]\nh = x /a 1\n");
    f = d.path("scheduler.conf");
    try {
      sched::check_listen(d.load());
      ADD_FAILURE() << "0.0.0.0 without a token";
    } catch (const sched::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()),
                f + ":3: [scheduler] listen: '0.0.0.0' is not a loopback address and no "
                    "auth_token is set; expected a loopback listen address (127.0.0.1, ::1, "
                    "localhost) or [scheduler] auth_token");
    }
  }
  {
    ConfDir d("[scheduler]\nlisten = 0.0.0.0\nauth_token = abc\n[hosts]\nh = x /a 1\n");
    auto c = d.load();
    EXPECT_EQ(c.auth_token, "abc");
    EXPECT_NO_THROW(sched::check_listen(c));
  }
  {
    ConfDir d("[scheduler]\nlisten = no-such-host.invalid\n[hosts]\nh = x /a 1\n");
    f = d.path("scheduler.conf");
    try {
      sched::check_listen(d.load());
      ADD_FAILURE() << "an unresolvable listen";
    } catch (const sched::ConfigError& e) {
      std::string what = e.what();
      EXPECT_EQ(
          what.rfind(f + ":2: [scheduler] listen: cannot resolve 'no-such-host.invalid': ", 0), 0u)
          << what;
    }
  }
}

TEST(Config, AuthTokenAndUser) {
  ConfDir d("[scheduler]\nauth_token =  t0k  \nuser = jobline\n[hosts]\nh = x /a 1\n");
  auto c = d.load();
  EXPECT_EQ(c.auth_token, "t0k");
  EXPECT_EQ(c.user, "jobline");
  EXPECT_EQ(c.user_where, d.path("scheduler.conf") + ":3");
  for (const char* bad : {"auth_token =", "auth_token = two words", "user ="}) {
    ConfDir b(std::string("[scheduler]\n") + bad + "\n[hosts]\nh = x /a 1\n");
    EXPECT_THROW(b.load(), sched::ConfigError) << bad;
  }
}

}  // namespace
