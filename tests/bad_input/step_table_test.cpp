// Bad input, part 2: queued steps. One running scheduler takes a table of bad steps (an
// unknown type or host, bad SQL, jq_args that cannot be one data line, bad jq_cmd_args,
// dependency cycles, a missing binary...) with a good step queued beside them; each bad step
// fails alone with its exact jq_endtext and without blocking the good one.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bad_input_util.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::SchedulerHarness;

struct StepRow {
  std::string name;
  // Queues the bad step(s); returns the jq_pk whose jq_endtext is checked.
  std::function<long long(SchedulerHarness&)> queue;
  // The expected jq_endtext; {pk} is the checked step, {conf} the conf dir.
  std::function<std::string(SchedulerHarness&, long long)> endtext;
};

SchedulerHarness::Step step(std::string type, std::string args) {
  SchedulerHarness::Step s;
  s.type = std::move(type);
  s.args = std::move(args);
  return s;
}

// An SQL-fed step of the good type over `query`, routed by column k.
SchedulerHarness::Step sql_step(std::string query) {
  auto s = step("ok", std::move(query));
  s.runonpfile = "k";
  return s;
}

std::function<long long(SchedulerHarness&)> queued(SchedulerHarness::Step s) {
  return [s](SchedulerHarness& h) { return h.queue(s); };
}

std::function<std::string(SchedulerHarness&, long long)> text(std::string t) {
  return [t](SchedulerHarness&, long long) { return t; };
}

// Steps a, b queued with a -> b -> a made in the same statement, so that the scheduler never
// sees either of them ready; returns a.
long long two_step_cycle(SchedulerHarness& h) {
  std::string job = h.db().query("SELECT queue_job('cycle')");
  auto pks = h.db().rows(fmt::format(
      "WITH a AS (SELECT queue_step({0}, 'ok', 'a') AS pk), b AS (SELECT queue_step({0}, 'ok', "
      "'b') AS pk), e AS (INSERT INTO jobdepends SELECT a.pk, b.pk FROM a, b UNION ALL SELECT "
      "b.pk, a.pk FROM a, b RETURNING 1) SELECT a.pk FROM a, (SELECT count(*) FROM e) n",
      job));
  return std::stoll(pks.at(0));
}

long long self_dependency(SchedulerHarness& h) {
  std::string job = h.db().query("SELECT queue_job('self')");
  return std::stoll(h.db().query(fmt::format(
      "WITH a AS (SELECT queue_step({}, 'ok', 'a') AS pk), e AS (INSERT INTO jobdepends SELECT "
      "a.pk, a.pk FROM a RETURNING 1) SELECT a.pk FROM a, (SELECT count(*) FROM e) n",
      job)));
}

// A step waiting for a step that fails (of an unknown type); returns the dependent.
long long behind_a_failure(SchedulerHarness& h) {
  long long bad = h.queue(step("nosuch", "x"));
  auto s = step("ok", "after");
  s.depends = {bad};
  return h.queue(s);
}

std::vector<StepRow> rows() {
  auto host = step("ok", "x");
  host.host = "nowhere";
  auto cmd_args = step("ok", "x");
  cmd_args.cmd_args = "--mode=ok 'unbalanced";
  return {
      {"UnknownType", queued(step("nosuch", "x")),
       [](SchedulerHarness& h, long long) {
         return fmt::format("no agent type 'nosuch' (no valid {}/agents/nosuch.conf)",
                            h.conf_dir());
       }},
      {"UnknownHost", queued(host), text("jq_host 'nowhere' is not in [hosts]")},
      {"JqArgsOverTheLineLimit", queued(step("ok", std::string(70'000, 'x'))),
       text("jq_args cannot be sent as one data line: it is 70000 bytes, over the limit of "
            "65536")},
      {"JqArgsWithANewline", queued(step("ok", "first\nsecond")),
       text("jq_args cannot be sent as one data line: it holds a newline at byte 5")},
      {"JqCmdArgsUnbalancedQuote", queued(cmd_args),
       text("jq_cmd_args: Text ended before matching quote was found for '. (The text was "
            "“--mode=ok 'unbalanced”)")},
      {"SqlSyntaxError", queued(sql_step("SELEC k FROM items")),
       text("query failed: ERROR:  syntax error at or near \"SELEC\"")},
      {"SqlUnknownTable", queued(sql_step("SELECT k FROM nosuch")),
       text("query failed: ERROR:  relation \"nosuch\" does not exist")},
      {"SqlUnknownFunction", queued(sql_step("SELECT nosuchfn(k) AS k FROM items")),
       text("query failed: ERROR:  function nosuchfn(text) does not exist; HINT: No function "
            "matches the given name and argument types. You might need to add explicit type "
            "casts.")},
      {"SqlFailingWhileFetched", queued(sql_step("SELECT k, 1 / (id - id) AS z FROM items")),
       text("query failed: ERROR:  division by zero")},
      {"SqlWithoutTheRoutingColumn", queued(sql_step("SELECT id FROM items")),
       text("query failed: its result has no column \"k\" (jq_runonpfile)")},
      {"SqlFedWithoutAQuery", queued(sql_step("")),
       text("jq_args is empty; expected the query of an SQL-fed step (jq_runonpfile 'k')")},
      {"DependencyCycle", two_step_cycle,
       [](SchedulerHarness& h, long long a) {
         std::string b = h.db().query(
             fmt::format("SELECT jdep_jq_depends_fk FROM jobdepends WHERE jdep_jq_fk = {}", a));
         return fmt::format("dependency cycle: {} -> {} -> {}", a, b, a);
       }},
      {"SelfDependency", self_dependency,
       [](SchedulerHarness&, long long a) {
         return fmt::format("dependency cycle: {} -> {}", a, a);
       }},
      {"BehindAFailedStep", behind_a_failure, text("dependency failed")},
      {"MissingBinary", queued(step("gone", "x")),
       text("cannot execute '/nonexistent/jobline/agent': No such file or directory")},
      {"AgentSaysFatal", queued(step("fatal", "x")), text("FATAL: something broke")},
      {"AgentFailsWithAnError", queued(step("complains", "x")),
       text("exited with exit code 3 (agents failed 3 times); last ERROR: cannot open "
            "/nonexistent")},
  };
}

TEST(BadSteps, EachFailsAloneWithItsJqEndtextWhileAGoodStepCompletes) {
  auto s = test::bad_input::settings();
  test::AgentConf gone;
  gone.name = "gone";
  gone.command = "/nonexistent/jobline/agent";
  test::AgentConf complains;
  complains.name = "complains";
  complains.command =
      "/bin/sh -c 'echo OK; read line; echo \"ERROR: cannot open /nonexistent\"; exit 3'";
  s.agents = {test::fake_agent("ok"), test::fake_agent("fatal", "--fatal"), gone, complains};
  SchedulerHarness h(s);
  h.db().query(
      "CREATE TABLE items(id int PRIMARY KEY, k text);"
      "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 3) i");
  h.start();
  const auto table = rows();
  std::vector<long long> pks;
  for (const auto& row : table) pks.push_back(row.queue(h));
  long long good = h.queue(step("ok", "fine"));
  ASSERT_TRUE(h.wait_ended(good, 60s)) << h.log();
  EXPECT_EQ(h.endtext(good), "Completed");
  EXPECT_EQ(h.items(good), 1);
  for (std::size_t i = 0; i < table.size(); ++i) {
    SCOPED_TRACE(table[i].name);
    ASSERT_TRUE(h.wait_ended(pks[i], 60s)) << h.log();
    EXPECT_EQ(h.endtext(pks[i]), table[i].endtext(h, pks[i]));
    EXPECT_EQ(h.end_bits(pks[i]), 2);
  }
  // The scheduler still takes work after all of them.
  long long after = h.queue(step("ok", "after"));
  ASSERT_TRUE(h.wait_ended(after, 60s)) << h.log();
  EXPECT_EQ(h.endtext(after), "Completed");
}

}  // namespace
