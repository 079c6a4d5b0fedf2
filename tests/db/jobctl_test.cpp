// jobctl against a real scheduler and database: every subcommand, bad usage and exit codes,
// plugin chains queued once per upload, ars-done agents skipped, cyclic and unknown plugin
// dependencies rejected with their chain, `watch` redrawn in place on a pseudo-terminal and
// plain into a pipe, --json that parses.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <nlohmann/json.hpp>

#include <string>

#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using test::contains;
using test::SchedulerHarness;

test::AgentConf with_plugin(test::AgentConf a, const std::string& plugin) {
  a.extra += "\n[plugin]\n" + plugin;
  return a;
}

test::SchedulerSettings pipeline_settings() {
  auto s = test::fast_settings();
  s.heartbeat_timeout = 30;
  s.agents = {
      with_plugin(test::fake_agent("unpack"), "title = Unpack\nargs = $upload\ndefault = true\n"),
      with_plugin(test::fake_agent("scan", "--work-ms=300"),
                  "title = Scanner\ndepends = unpack\nargs = scan $upload job $job\n"
                  "default = true\n"),
      with_plugin(test::fake_agent("report"), "title = Report\ndepends = scan\nargs = r\n"),
      test::fake_agent("plain"),
      test::fake_agent("hang", "--hang"),
  };
  return s;
}

class Jobctl : public ::testing::Test {
 protected:
  Jobctl() : h(pipeline_settings()) {}

  test::RunResult jobctl(std::vector<std::string> args) {
    std::vector<std::string> argv{test::build_dir() + "/jobctl/jobctl", "-c", h.conf_dir(), "--db",
                                  h.db().conninfo()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, {}, 60s);
  }
  Json json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto r = jobctl(args);
    EXPECT_EQ(r.exit_code(), 0) << r.output;
    return Json::parse(r.output);
  }
  long long new_upload() {
    return std::stoll(
        h.db().query("INSERT INTO upload (upload_filename) VALUES ('/tmp/x') RETURNING upload_pk"));
  }
  long long count(const std::string& sql) { return std::stoll(h.db().query(sql)); }

  SchedulerHarness h;
};

TEST_F(Jobctl, HelpAndBadUsageExitTwo) {
  auto help = jobctl({"--help"});
  EXPECT_EQ(help.exit_code(), 0);
  for (const char* c : {"queue", "upload", "watch", "jobs", "status", "agents", "load", "log",
                        "kill", "pause", "restart", "priority", "verbose", "reload", "db"})
    EXPECT_TRUE(contains(help.output, std::string("  ") + c + " ")) << c;
  for (const char* c : {"queue", "upload", "watch", "jobs", "kill", "db"}) {
    auto r = jobctl({c, "--help"});
    EXPECT_EQ(r.exit_code(), 0) << c;
    EXPECT_TRUE(contains(r.output, std::string("usage: jobctl [global options] ") + c)) << r.output;
  }
  struct Bad {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {{}, "jobctl: no command given"},
      {{"frob"}, "jobctl: unknown command 'frob'"},
      {{"queue"}, "jobctl: queue: the option '--agent' is required but missing"},
      {{"queue", "scan"},
       "jobctl: queue: give --upload N (through the agent's plugin) or "
       "--args/--sql (raw)"},
      {{"queue", "scan", "--sql", "SELECT 1"},
       "jobctl: queue: --sql needs --runonpfile COLUMN (and --runonpfile needs --sql)"},
      {{"jobs", "--state", "bogus"},
       "jobctl: jobs: --state 'bogus' is not one of completed, "
       "failed, paused, queued, running, waiting"},
      {{"jobs", "--limit", "many"},
       "jobctl: jobs: the argument ('many') for option '--limit' is "
       "invalid"},
      {{"kill"}, "jobctl: kill: the option '--jq' is required but missing"},
      {{"db", "drop"}, "jobctl: db: unknown action 'drop'; expected init"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.message);
    auto r = jobctl(b.args);
    EXPECT_EQ(r.exit_code(), 2) << r.output;
    EXPECT_EQ(r.output.substr(0, r.output.find('\n')), b.message);
  }
}

TEST_F(Jobctl, APluginChainQueuedTwiceForOneUploadGetsOneStepPerAgent) {
  long long upload = new_upload();
  Json first = json({"queue", "report", "--upload", std::to_string(upload)});
  ASSERT_EQ(first["steps"].size(), 3u);
  std::vector<std::string> agents, actions;
  for (const auto& s : first["steps"]) {
    agents.push_back(s["agent"]);
    actions.push_back(s["action"]);
  }
  EXPECT_EQ(agents, (std::vector<std::string>{"unpack", "scan", "report"}));
  EXPECT_EQ(actions, (std::vector<std::string>{"queued", "queued", "queued"}));
  Json second = json({"queue", "report", "--upload", std::to_string(upload)});
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second["steps"][i]["action"], "reused");
    EXPECT_EQ(second["steps"][i]["jq"], first["steps"][i]["jq"]);
  }
  EXPECT_EQ(count("SELECT count(*) FROM jobqueue"), 3);
  // Each step waits for its dependency's step; templates are expanded.
  long long scan = first["steps"][1]["jq"], unpack = first["steps"][0]["jq"];
  EXPECT_EQ(h.db().query("SELECT jdep_jq_depends_fk FROM jobdepends WHERE jdep_jq_fk = " +
                         std::to_string(scan)),
            std::to_string(unpack));
  EXPECT_EQ(h.column(scan, "jq_args"),
            "scan " + std::to_string(upload) + " job " + first["job"].dump());
}

TEST_F(Jobctl, AnAgentWhoseArsSaysDoneIsSkipped) {
  long long upload = new_upload();
  h.db().query(
      "INSERT INTO agent (agent_name, agent_rev) VALUES ('unpack', '1');"
      "CREATE TABLE unpack_ars () INHERITS (ars_master);"
      "INSERT INTO unpack_ars (agent_fk, upload_fk, ars_success) SELECT agent_pk, " +
      std::to_string(upload) + ", true FROM agent WHERE agent_name = 'unpack'");
  auto r = jobctl({"queue", "scan", "--upload", std::to_string(upload)});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_TRUE(contains(r.output, "unpack  skipped")) << r.output;
  EXPECT_TRUE(contains(r.output, "finished upload " + std::to_string(upload) + " (unpack_ars)"))
      << r.output;
  EXPECT_EQ(count("SELECT count(*) FROM jobqueue WHERE jq_type = 'unpack'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM jobdepends"), 0);
}

TEST_F(Jobctl, CyclicAndUnknownPluginDependenciesAreRejectedWithTheirChain) {
  auto& agents = h.settings().agents;
  agents.push_back(with_plugin(test::fake_agent("a"), "title = A\nargs = 1\ndepends = b\n"));
  agents.push_back(with_plugin(test::fake_agent("b"), "title = B\nargs = 1\ndepends = a\n"));
  agents.push_back(with_plugin(test::fake_agent("c"), "title = C\nargs = 1\ndepends = nope\n"));
  h.write_conf();
  long long upload = new_upload();
  auto cyc = jobctl({"queue", "a", "--upload", std::to_string(upload)});
  EXPECT_EQ(cyc.exit_code(), 1);
  EXPECT_TRUE(contains(cyc.output, "dependency cycle a -> b -> a")) << cyc.output;
  auto unknown = jobctl({"queue", "c", "--upload", std::to_string(upload)});
  EXPECT_EQ(unknown.exit_code(), 1);
  EXPECT_TRUE(contains(unknown.output,
                       "depends on 'nope', which is not an agent with a [plugin] "
                       "group (c -> nope)"))
      << unknown.output;
  EXPECT_EQ(count("SELECT count(*) FROM jobqueue"), 0);
}

TEST_F(Jobctl, RawQueueingForScripts) {
  Json plain = json({"queue", "plain", "--args", "hello world", "--priority", "3"});
  long long jq = plain["jq"];
  EXPECT_EQ(h.column(jq, "jq_args"), "hello world");
  Json sql = json({"queue", "plain", "--sql", "SELECT 1 AS k", "--runonpfile", "k", "--depends",
                   std::to_string(jq), "--host", "localhost", "--job", plain["job"].dump()});
  long long jq2 = sql["jq"];
  EXPECT_EQ(sql["job"], plain["job"]);
  EXPECT_EQ(h.column(jq2, "jq_runonpfile"), "k");
  EXPECT_EQ(h.column(jq2, "jq_host"), "localhost");
  EXPECT_EQ(h.db().query("SELECT jdep_jq_depends_fk FROM jobdepends WHERE jdep_jq_fk = " +
                         std::to_string(jq2)),
            std::to_string(jq));
  auto missing = jobctl({"queue", "plain", "--args", "x", "--depends", "999999"});
  EXPECT_EQ(missing.exit_code(), 1);
  EXPECT_TRUE(contains(missing.output, "queue_step: dependency jq_pk 999999 does not exist"))
      << missing.output;
}

TEST_F(Jobctl, UploadRunsTheDefaultPipelineAndWatchWritesPlainLinesIntoAPipe) {
  h.start();
  test::TempDir tree;
  auto up = json({"upload", tree.path()});
  ASSERT_TRUE(up["job"].is_number());
  EXPECT_EQ(up["steps"].size(), 2u);  // unpack and scan (report is not default)
  auto watch = jobctl({"watch", up["job"].dump()});
  EXPECT_EQ(watch.exit_code(), 0) << watch.output << h.log();
  EXPECT_TRUE(contains(watch.output, " scan completed items 1 rate ")) << watch.output;
  EXPECT_TRUE(contains(watch.output, "ended: 2 step(s) completed, 0 failed")) << watch.output;
  EXPECT_FALSE(contains(watch.output, "\x1b[")) << "no terminal codes into a pipe";
  Json jobs = json({"jobs", "--job", up["job"].dump()});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& s : jobs) {
    EXPECT_EQ(s["state"], "completed");
    EXPECT_EQ(s["items"], 1);
    EXPECT_TRUE(s["duration"].is_number());
  }
  EXPECT_EQ(
      h.db().query("SELECT upload_filename FROM upload WHERE upload_pk = " + up["upload"].dump()),
      tree.path());
  auto text = jobctl({"jobs", "--state", "completed", "--type", "scan"});
  EXPECT_TRUE(contains(text.output, "JOB")) << text.output;
  EXPECT_TRUE(contains(text.output, "completed")) << text.output;
}

// Runs jobctl with its stdout on a pseudo-terminal; returns everything it wrote.
std::string run_in_pty(const std::vector<std::string>& args) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited and closed the terminal
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

TEST_F(Jobctl, WatchRedrawsInPlaceOnATerminal) {
  h.start();
  long long upload = new_upload();
  Json q = json({"queue", "scan", "--upload", std::to_string(upload)});
  std::string out = run_in_pty({test::build_dir() + "/jobctl/jobctl", "-c", h.conf_dir(), "--db",
                                h.db().conninfo(), "watch", q["job"].dump(), "--interval", "50"});
  EXPECT_TRUE(contains(out, "\x1b[3A")) << out;  // cursor up over the 3 lines drawn before
  EXPECT_TRUE(contains(out, "\x1b[2K")) << out;  // each line cleared and drawn again
  EXPECT_TRUE(contains(out, "[=")) << out;       // a running bar
  EXPECT_TRUE(contains(out, "ended: 2 step(s) completed, 0 failed")) << out;
}

TEST_F(Jobctl, ControlCommandsAndLogs) {
  h.start();
  long long jq = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  std::string pk = std::to_string(jq);
  Json status = json({"status"});
  ASSERT_FALSE(status["steps"].empty());
  EXPECT_EQ(status["steps"][0]["job"], jq);
  Json one = json({"status", pk});
  ASSERT_EQ(one["agents"].size(), 1u);
  EXPECT_EQ(one["agents"][0]["type"], "hang");
  Json agents = json({"agents"});
  bool scan_found = false;
  for (const auto& a : agents)
    if (a["agent"] == "scan") {
      scan_found = true;
      EXPECT_EQ(a["valid"], true);
      EXPECT_EQ(a["depends"], "unpack");
      EXPECT_EQ(a["plugin"], "Scanner");
    }
  EXPECT_TRUE(scan_found);
  Json load = json({"load"});
  ASSERT_EQ(load.size(), 1u);
  EXPECT_EQ(load[0]["host"], "localhost");
  EXPECT_EQ(load[0]["running"], 1);
  EXPECT_EQ(jobctl({"priority", pk, "7"}).exit_code(), 0);
  EXPECT_EQ(h.db().query("SELECT job_priority FROM job JOIN jobqueue ON jq_job_fk = job_pk "
                         "WHERE jq_pk = " +
                         pk),
            "7");
  EXPECT_EQ(jobctl({"verbose", "2"}).exit_code(), 0);
  EXPECT_EQ(jobctl({"verbose", pk, "1"}).exit_code(), 0);
  EXPECT_EQ(jobctl({"pause", pk}).exit_code(), 0);
  EXPECT_TRUE(test::eventually([&] { return h.endtext(jq) == "Paused"; }));
  EXPECT_EQ(jobctl({"restart", pk}).exit_code(), 0);
  EXPECT_TRUE(test::eventually([&] { return h.endtext(jq) == "Restarted"; }));
  EXPECT_EQ(jobctl({"reload"}).exit_code(), 0);
  auto log = jobctl({"log", pk, "--tail", "50"});
  EXPECT_EQ(log.exit_code(), 0);
  EXPECT_TRUE(contains(log.output, "agent started: JOB[" + pk + "]")) << log.output;
  auto kill = jobctl({"kill", pk, "enough"});
  EXPECT_EQ(kill.exit_code(), 0) << kill.output;
  ASSERT_TRUE(h.wait_ended(jq, 30s));
  EXPECT_EQ(h.endtext(jq), "killed: enough");
  // A step that does not exist is an error, exit 1.
  for (const char* cmd : {"kill", "pause", "restart"}) {
    auto r = jobctl({cmd, "999999"});
    EXPECT_EQ(r.exit_code(), 1) << cmd << ": " << r.output;
  }
  EXPECT_EQ(jobctl({"log", "999999"}).exit_code(), 1);
}

// A step without a log file in the log directory has logged nothing: `log` says so, exit 0.
TEST_F(Jobctl, LogOfAStepThatLoggedNothingSaysSoAndSucceeds) {
  h.start();
  long long noted = h.queue("plain", "x");  // at the harness's -v 2: the scheduler's notes
  ASSERT_TRUE(h.wait_ended(noted, 30s)) << h.log();
  EXPECT_EQ(jobctl({"verbose", "0"}).exit_code(), 0);
  long long silent = h.queue("plain", "y");
  ASSERT_TRUE(h.wait_ended(silent, 30s)) << h.log();
  ASSERT_EQ(h.endtext(silent), "Completed");
  auto log = jobctl({"log", std::to_string(noted)});
  EXPECT_EQ(log.exit_code(), 0) << log.output;
  EXPECT_TRUE(contains(log.output, "Completed")) << log.output;
  log = jobctl({"log", std::to_string(silent)});
  EXPECT_EQ(log.exit_code(), 0) << log.output;
  EXPECT_TRUE(contains(log.output, "jobctl: log: step " + std::to_string(silent) +
                                       " has logged nothing (" + h.column(silent, "jq_log") +
                                       " does not exist"))
      << log.output;
}

TEST_F(Jobctl, UnreachableSchedulerIsAFailureNamingWhereItLooked) {
  auto r = jobctl({"status"});  // not started
  EXPECT_EQ(r.exit_code(), 1);
  EXPECT_TRUE(contains(r.output, "jobctl: cannot reach the scheduler (socket ")) << r.output;
}

TEST(JobctlDb, InitCreatesAMissingDatabaseThenIsIdempotent) {
  std::string name = "jobctl_init_" + std::to_string(getpid());
  std::string conninfo = test::cluster_conninfo() + " dbname=" + name;
  test::TempDir conf;
  std::vector<std::string> argv{
      test::build_dir() + "/jobctl/jobctl", "-c", conf.path(), "--db", conninfo, "db", "init"};
  auto first = test::run(argv);
  EXPECT_EQ(first.exit_code(), 0) << first.output;
  EXPECT_TRUE(contains(first.output, "database '" + name + "' created")) << first.output;
  EXPECT_TRUE(contains(first.output, "schema upgraded from version 0 to ")) << first.output;
  auto second = test::run(argv);
  EXPECT_EQ(second.exit_code(), 0);
  EXPECT_TRUE(contains(second.output, "schema is up to date")) << second.output;
  test::run({"psql", "-X", "-q", "-d", test::cluster_conninfo(), "-c",
             "DROP DATABASE " + name + " WITH (FORCE)"});
}

}  // namespace
