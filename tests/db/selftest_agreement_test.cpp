// `scheduler -t` predicts what a step does (SPEC §6, docs/scheduler.md "Self-tests"): every
// misbehaviour of fake_agent is configured as an agent type, tested with `-t` and run as one
// real step with no data (an SQL-fed step whose query returns no row), and the two must agree:
// PASS ⇔ Completed, and the same reason when both fail. The table also says which outcome is
// right, so that both paths being wrong the same way fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "scheduler_test_util.hpp"

namespace {

using namespace test;
using namespace std::chrono_literals;

// A step with no data: the agent starts, says OK, the query returns nothing, its data ends.
constexpr const char* kNoRows = "SELECT 1 AS x WHERE false";
// Longer than startup_timeout and heartbeat_timeout below.
constexpr const char* kSlow = " --exit-delay-ms=6000";

struct Case {
  std::string name;   // the agent type
  std::string args;   // fake_agent's options
  bool pass;          // the right outcome: -t PASS and the step Completed
  std::string why{};  // part of the reason when it fails
  std::string special{};
  std::string command{};  // instead of fake_agent
  std::string logged{};   // a line both the -t log and the step log must hold
};

SchedulerSettings settings(const std::vector<Case>& cases) {
  auto s = fast_settings();
  // The margins are for a loaded machine (sanitizer builds, tests in parallel): a sound agent
  // must say OK within startup_timeout, and a step's query returning no row must answer
  // before heartbeat_timeout (the agent waits for its data in silence, as it would in use).
  s.startup_timeout = 3.5;
  s.heartbeat_timeout = 4;
  s.kill_grace = 0.3;
  s.max_failures = 1;  // the reason of the first failure (a step retries; the outcome is alike)
  s.hosts = {HostConf{"localhost", "localhost", "", 64}};
  for (const auto& c : cases) {
    AgentConf conf = fake_agent(c.name, c.args, -1, c.special);
    if (!c.command.empty()) conf.command = c.command;
    s.agents.push_back(conf);
  }
  return s;
}

// "PASS t on localhost" → {t, ""}; "FAIL t on localhost: reason" → {t, reason}.
std::map<std::string, std::optional<std::string>> self_test_results(const std::string& out) {
  std::map<std::string, std::optional<std::string>> results;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    bool pass = line.rfind("PASS ", 0) == 0;
    if (!pass && line.rfind("FAIL ", 0) != 0) continue;
    auto on = line.find(" on localhost");
    if (on == std::string::npos) continue;
    std::string type = line.substr(5, on - 5);
    if (pass)
      results[type] = std::nullopt;
    else
      results[type] = line.substr(std::min(line.size(), on + sizeof " on localhost: " - 1));
  }
  return results;
}

// The agent's reason in a failed step's jq_endtext (without the retry count).
std::string step_reason(std::string endtext) {
  const std::string suffix = " (agents failed 1 times)";
  if (endtext.size() > suffix.size() &&
      endtext.compare(endtext.size() - suffix.size(), suffix.size(), suffix) == 0)
    endtext.erase(endtext.size() - suffix.size());
  return endtext;
}

// Runs `-t` and one data-less step per case at the same time, then compares.
void expect_agreement(const std::vector<Case>& cases) {
  SchedulerHarness h(settings(cases));
  h.start();
  std::map<std::string, long long> steps;
  for (const auto& c : cases) {
    SchedulerHarness::Step step;
    step.type = c.name;
    step.args = kNoRows;
    step.runonpfile = "x";
    steps[c.name] = h.queue(step);
  }
  auto r = h.run({"-c", h.conf_dir(), "-L", h.conf_dir() + "/selftest.log", "-t"}, 60s);
  auto tested = self_test_results(r.output);
  std::ifstream log_file(h.conf_dir() + "/selftest.log");
  std::string self_test_log((std::istreambuf_iterator<char>(log_file)), {});
  bool all_pass = std::all_of(cases.begin(), cases.end(), [](const Case& c) { return c.pass; });
  EXPECT_EQ(r.exit_code(), all_pass ? 0 : 1) << r.output;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " (" + c.args + ")");
    long long jq = steps[c.name];
    if (!h.wait_ended(jq, 30s)) {
      ADD_FAILURE() << "the step did not end\n" << h.step_log(jq);
      continue;
    }
    if (tested.count(c.name) != 1) {
      ADD_FAILURE() << "no -t line\n" << r.output;
      continue;
    }
    bool self_test_passed = !tested[c.name].has_value();
    bool completed = h.endtext(jq) == "Completed";
    std::string detail = "-t: " + tested[c.name].value_or("PASS") + "\nstep: " + h.endtext(jq) +
                         "\nstep log:\n" + h.step_log(jq);
    EXPECT_EQ(self_test_passed, completed) << detail;
    EXPECT_EQ(completed, c.pass) << detail;
    EXPECT_TRUE(contains(h.step_log(jq), c.logged)) << detail;
    EXPECT_TRUE(contains(self_test_log, c.logged)) << self_test_log;
    if (self_test_passed || completed) continue;
    EXPECT_EQ(*tested[c.name], step_reason(h.endtext(jq))) << detail;
    EXPECT_TRUE(contains(*tested[c.name], c.why)) << detail;
  }
}

// How agents start, exit and what they write, in the seed dialect.
TEST(SelfTestAgreement, SeedStartExitAndOutput) {
  expect_agreement({
      {"ok", "", true},
      {"no-ok", "--no-ok", false, "startup_timeout"},
      {"bad-option", "--bogus", false, "exit code 64"},
      {"missing-binary", "", false, "cannot execute", "", "/nonexistent/agent"},
      {"exit-early", "--exit-early", true},  // acts on a data line: none comes
      {"fatal", "--fatal", true},            // likewise
      {"crash", "--crash-after=0", true},    // likewise
      {"fatal-at-end", "--at-end=fatal", false, "FATAL: something broke"},
      {"crash-at-end", "--at-end=crash", false, "signal 11 (SIGSEGV)"},
      {"abort-at-end", "--at-end=crash --crash=abort", false, "signal 6 (SIGABRT)"},
      {"exit-code", "--exit-code=3", false, "exit code 3"},
      {"garbage", "--garbage", true},
      {"overlong-line-at-end", "--at-end=garbage", true},
      {"flood", "--flood=5000", true},
      {"window", "--window=8", true},
      {"bad-window", "--window=0", true},  // a protocol error, logged
      {"db-refused", "'--db=SELECT 1'", true},
      {"grandchild-then-ok", "--grandchild --then=ok", true},
      {"print-fds", "--print-fds", true},
  });
}

// Silence, heartbeats, NOKILL and SIGTERM: the timers after the end of data.
TEST(SelfTestAgreement, SeedTimers) {
  expect_agreement({
      {"hang", "--hang", false, "heartbeat_timeout"},
      {"ignore-term", "--ignore-term", false, "heartbeat_timeout"},
      {"grandchild", "--grandchild", false, "heartbeat_timeout"},
      {"no-heartbeat", "--no-heartbeat", true},  // silent after a data line: none comes
      {"heartbeat", "--heartbeat-ms=200", true},
      {"slow-exit", kSlow, false, "heartbeat_timeout"},
      {"slow-exit-heartbeat", std::string(kSlow) + " --heartbeat-ms=200", true},
      {"slow-exit-nokill", kSlow, true, "", "NOKILL"},
  });
}

// FOSSology's dialect: BYE, SPECIAL NOKILL, and how the first line decides the dialect.
TEST(SelfTestAgreement, FossologyDialect) {
  expect_agreement({
      {"fossology", "--fossology", true},
      {"fossology-heart", "--fossology --heartbeat-ms=200", true},
      {"fossology-bye-1", "--fossology --bye=1", false, "BYE 1"},
      {"fossology-no-bye", "--fossology --no-bye", false, "without BYE"},
      {"fossology-bye-first", "--fossology --bye-first", false, "before its first OK"},
      {"fossology-crash-at-end", "--fossology --at-end=crash", false, "SIGSEGV"},
      {"fossology-fatal-text", "--fossology --at-end=fatal", false, "without BYE"},
      {"fossology-slow", std::string("--fossology") + kSlow, false, "heartbeat_timeout"},
      {"fossology-nokill-slow", std::string("--fossology --nokill") + kSlow, true},
      // The first line is "junkVERSION: fake": not VERSION:, so the seed dialect; as a seed
      // agent with no data it says OK and exits 0 at the end of its stdin.
      {"text-before-version", "--fossology --before-version=junk", true, "", "", "",
       "first line does not start with VERSION: (text written before it?): seed dialect"},
      {"line-before-version", "--fossology '--before-version=junk\\n'", true},
  });
}

}  // namespace
