// Bad input, part 4: what agents write (SPEC §2). Each row is an agent (a shell script) that
// writes one kind of bad protocol line; the step log must hold the exact line saying what was
// wrong, and the step must end as documented (most go on and complete). One scheduler runs
// them all beside a good step.
#include <gtest/gtest.h>

#include <fstream>
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
using test::bad_input::fill;

struct ProtocolRow {
  std::string name;    // the agent type
  std::string script;  // /bin/sh script
  // Step log messages ("LEVEL: text"), each expected exactly once; {tag} is the agent's
  // JOB[jq_pk].type[pid.host], {conf} the conf dir.
  std::vector<std::string> lines;
  std::string endtext = "Completed";
};

// A seed-dialect agent: `before` ahead of its first OK, `after` once it has the data line,
// then it acknowledges the line and exits 0 at the end of its input.
std::string seed(const std::string& before, const std::string& after) {
  return before + "echo OK\nread -r line\n" + after + "echo OK\nwhile read -r line; do :; done\n";
}

// A FOSSology-dialect agent writing `after` once it has its data line.
std::string fossology(const std::string& after, const std::string& bye = "BYE 0") {
  return "echo 'VERSION: 1'\necho OK\nwhile read -r line; do\n  case \"$line\" in\n"
         "    END) echo; echo OK;;\n    CLOSE) echo '" +
         bye + "'; exit 0;;\n    *) " + after + ";;\n  esac\ndone\n";
}

std::string warning(const std::string& text) {
  return "WARNING: {tag}: \"" + text + "\"";
}
std::string protocol_error(const std::string& expected, const std::string& line) {
  return warning("protocol error: " + expected + ": \"" + line + "\"");
}

std::vector<ProtocolRow> rows() {
  const std::string items = "expected `ItemsProcessed <n>` with n a decimal integer >= 0";
  const std::string window = "expected `WINDOW <n>` with n from 1 to 1024";
  std::string subs;
  for (int i = 1; i <= 65; ++i) subs += fmt::format("echo 'JQ_SUBS $k{} v'\n", i);
  return {
      {"text", seed("", "echo 'hello, world'\n"), {"NOTE: {tag}: \"hello, world\""}},
      {"overlong",
       seed("", "head -c 70000 /dev/zero | tr '\\0' x; echo\n"),
       {warning("protocol error: line longer than 65536 bytes cut"),
        "NOTE: {tag}: \"" + std::string(200, 'x') + "\""}},
      {"overlong_stderr",
       seed("", "head -c 70000 /dev/zero | tr '\\0' y >&2; echo >&2\n"),
       {warning("protocol error: stderr line longer than 64 KiB cut")}},
      {"items_negative",
       seed("", "echo 'ItemsProcessed -1'\n"),
       {protocol_error(items, "ItemsProcessed -1")}},
      {"items_too_big",
       seed("", "echo 'ItemsProcessed 99999999999999999999999'\n"),
       {protocol_error(items, "ItemsProcessed 99999999999999999999999")}},
      {"window_zero", seed("echo 'WINDOW 0'\n", ""), {protocol_error(window, "WINDOW 0")}},
      {"window_too_big", seed("echo 'WINDOW 5000'\n", ""), {protocol_error(window, "WINDOW 5000")}},
      {"window_after_ok",
       seed("", "echo 'WINDOW 4'\n"),
       {warning("protocol error: WINDOW after the first OK ignored")}},
      {"ok_with_words",
       seed("", "echo 'OK please'\n"),
       {protocol_error("this keyword takes no arguments", "OK please")}},
      {"jq_subs_without_value",
       seed("", "echo 'JQ_SUBS $key'\n"),
       {protocol_error("expected `JQ_SUBS <key> <value>`", "JQ_SUBS $key")}},
      {"jq_subs_over_the_limit",
       seed("", subs),
       {"WARNING: JQ_SUBS '$k65' ignored: more than 64 substitutions"}},
      {"db_empty",
       seed("", "echo 'DB:'\n"),
       {protocol_error("expected `DB: <sql>` with a non-empty statement", "DB:")}},
      {"db_not_allowed",
       seed("", "echo 'DB: SELECT 1'\nread -r reply\necho \"LOG $reply\"\n"),
       {"WARNING: DB: not permitted: allow_db is not true in {conf}/agents/db_not_allowed.conf: "
        "\"SELECT 1\"",
        "NOTE: {tag}: \"DBERROR not permitted: allow_db is not true in "
        "{conf}/agents/db_not_allowed.conf\""}},
      {"not_utf8", seed("", "printf '\\377\\376 bytes\\n'\n"), {"NOTE: {tag}: \"\xff\xfe bytes\""}},
      {"fatal",
       seed("", "echo 'FATAL: disk on fire'\n"),
       {"FATAL: {tag}: \"disk on fire\"", "ERROR: Failed: FATAL: disk on fire"},
       "FATAL: disk on fire"},
      {"heart_not_a_number",
       fossology("echo 'HEART: lots 1'"),
       {protocol_error("expected `HEART: <items> <0|1>` with items a decimal integer >= 0",
                       "HEART: lots 1")}},
      {"bye_not_a_number",
       fossology(":", "BYE soon"),
       {protocol_error("expected `BYE <rc>` with rc a decimal integer", "BYE soon"),
        warning("failed: exited without BYE (exit code 0)")},
       "exited without BYE (exit code 0) (agents failed 3 times)"},
  };
}

TEST(BadProtocolLines, EachIsLoggedExactlyAndTheStepEndsAsDocumented) {
  test::TempDir scripts;
  auto s = test::bad_input::settings();
  s.agents = {test::fake_agent("ok")};
  const auto table = rows();
  for (const auto& row : table) {
    std::string path = scripts.path() + "/" + row.name + ".sh";
    std::ofstream(path) << row.script;
    test::AgentConf a;
    a.name = row.name;
    a.command = "/bin/sh " + path;
    s.agents.push_back(a);
  }
  SchedulerHarness h(s);
  h.start();
  long long good = h.queue("ok", "fine");
  std::vector<long long> pks;
  for (const auto& row : table) pks.push_back(h.queue(row.name, "data"));
  ASSERT_TRUE(h.wait_ended(good, 60s)) << h.log();
  EXPECT_EQ(h.endtext(good), "Completed");
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& row = table[i];
    SCOPED_TRACE(row.name);
    ASSERT_TRUE(h.wait_ended(pks[i], 60s)) << h.log();
    EXPECT_EQ(h.endtext(pks[i]), row.endtext);
    std::string log = h.step_log(pks[i]);
    auto pids = test::started_pids(log);
    ASSERT_FALSE(pids.empty()) << log;
    std::string tag = fmt::format("JOB[{}].{}[{}.localhost]", pks[i], row.name, pids.front());
    auto messages = test::bad_input::messages(log);
    for (const auto& line : row.lines) {
      std::string expected = fill(line, {{"tag", tag}, {"conf", h.conf_dir()}});
      EXPECT_EQ(test::bad_input::count(messages, expected), 1) << expected << "\n" << log;
    }
  }
}

}  // namespace
