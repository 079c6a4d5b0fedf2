// Bad input, part 5: control interface commands (SPEC §7). Each row is one command line sent
// to a running scheduler and its exact reply; the step running meanwhile is untouched and the
// scheduler keeps answering and running steps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "bad_input_util.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::bad_input::fill;

struct CommandRow {
  std::string name;
  std::string command;             // {pk}: the running step
  std::vector<std::string> reply;  // every line, through `end`
};

std::vector<std::string> invalid(const std::string& verb, const std::string& line) {
  return {"received", fmt::format("ERROR: invalid {} command: \"{}\"", verb, line), "end"};
}

std::vector<CommandRow> rows() {
  return {
      {"UnknownCommand", "frobnicate 1", {"Invalid command: \"frobnicate 1\"", "end"}},
      {"NotUtf8", "\xff\xfe", {"Invalid command: \"\xff\xfe\"", "end"}},
      {"UnbalancedQuote",
       "kill {pk} \"no end",
       {"Invalid command: \"kill {pk} \"no end\": Text ended before matching quote was found for "
        "\". (The text was “kill {pk} \"no end”)",
        "end"}},
      {"OverlongLine", std::string(5000, 'x'), {"Invalid command: line too long", "end"}},
      {"KillWithoutArguments", "kill", invalid("kill", "kill")},
      {"KillWithoutMessage", "kill {pk}", invalid("kill", "kill {pk}")},
      {"KillNotAStep", "kill first \"x\"", invalid("kill", "kill first x")},
      {"PauseNotANumber", "pause abc", invalid("pause", "pause abc")},
      {"PauseTooManyArguments", "pause {pk} now", invalid("pause", "pause {pk} now")},
      {"RestartWithoutStep", "restart", invalid("restart", "restart")},
      {"PriorityWords", "priority x y", invalid("priority", "priority x y")},
      {"PriorityNotANumber", "priority {pk} high", invalid("priority", "priority {pk} high")},
      {"VerboseWord", "verbose loud", invalid("verbose", "verbose loud")},
      {"VerboseOfNoStep",
       "verbose 999999 2",
       {"received", "ERROR: invalid job id = 999999", "end"}},
      {"StatusOfNoStep", "status 999999", {"received", "ERROR: invalid job id = 999999", "end"}},
      {"StatusOfAWord", "status abc", {"received", "ERROR: invalid job id = abc", "end"}},
  };
}

TEST(BadCommands, EachGetsItsExactReplyAndNothingElseChanges) {
  auto settings = test::bad_input::settings();
  settings.agents = {test::fake_agent("hang", "--hang")};
  test::SchedulerHarness h(settings);
  h.start();
  long long jq = h.queue("hang", "x");  // a step whose agent hangs after its OK
  ASSERT_TRUE(h.wait_started(jq, 60s)) << h.log();
  pid_t pid = test::agent_pid(h, jq);
  ASSERT_GT(pid, 0) << h.log();
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.name);
    std::vector<std::string> expected;
    for (const auto& l : row.reply) expected.push_back(fill(l, {{"pk", test::pk(jq)}}));
    EXPECT_EQ(h.control(fill(row.command, {{"pk", test::pk(jq)}})), expected);
  }
  // The running step was neither killed nor paused, and the scheduler still takes work.
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  EXPECT_EQ(test::process_state(pid), 'S');
  auto status = h.control("status " + test::pk(jq));
  ASSERT_EQ(status.size(), 4u) << test::joined(status);
  EXPECT_EQ(status[0], "received");
  EXPECT_EQ(status[1].rfind(fmt::format("job:{} status:", jq), 0), 0u) << status[1];
  h.settings().agents.push_back(test::fake_agent("ok"));
  h.write_conf();
  EXPECT_EQ(h.control("reload"), (std::vector<std::string>{"received", "end"}));
  long long good = h.queue("ok", "fine");
  ASSERT_TRUE(h.wait_ended(good, 60s)) << h.log();
  EXPECT_EQ(h.endtext(good), "Completed");
}

}  // namespace
