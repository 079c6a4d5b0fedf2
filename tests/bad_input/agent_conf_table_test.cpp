// Bad input, part 3: agents/<name>.conf. One scheduler starts with a table of bad agent confs
// beside a good one; each bad type is left out with exactly one WARNING line naming
// file:line and key, its steps fail saying the type is not there, and the good type runs.
#include <gtest/gtest.h>

#include <filesystem>
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

struct AgentConfRow {
  std::string name;      // agents/<name>.conf
  std::string text;      // "" = a directory of that name
  std::string warning;   // {path} = the conf file
  bool left_out = true;  // false: only a warning, the type runs
};

const std::string kCommandExpected = "expected 'command = <binary> [arguments]'";
const std::string kLeftOut = "; agent type '{name}' left out";

std::vector<AgentConfRow> rows() {
  return {
      {"no_default", "[other]\ncommand = x\n",
       "{path}:2: [default]: group missing; expected a [default] group with at least 'command = "
       "...'" +
           kLeftOut},
      {"no_command", "[default]\nmax = 1\n",
       "{path}:1: [default] command: missing; " + kCommandExpected + kLeftOut},
      {"empty_command", "[default]\ncommand =\n",
       "{path}:2: [default] command: '': Text was empty (or contained only whitespace); expected "
       "a command line (words, \"quoted\" or 'quoted')" +
           kLeftOut},
      {"unbalanced_command", "[default]\ncommand = x 'y\n",
       "{path}:2: [default] command: 'x 'y': Text ended before matching quote was found for '. "
       "(The text was “x 'y”); expected a command line (words, \"quoted\" or 'quoted')" +
           kLeftOut},
      {"bad_max", "[default]\ncommand = x\nmax = lots\n",
       "{path}:3: [default] max: 'lots' is not an integer; expected an integer >= -1" + kLeftOut},
      {"bad_special", "[default]\ncommand = x\nspecial = NOKILL;FAST\n",
       "{path}:3: [default] special: unknown value 'FAST'; expected a list of EXCLUSIVE, NOKILL, "
       "NOEMAIL, LOCAL" +
           kLeftOut},
      {"bad_allow_db", "[default]\ncommand = x\n\nallow_db = maybe\n",
       "{path}:4: [default] allow_db: 'maybe' is not a boolean; expected true or false" + kLeftOut},
      {"syntax", "[default]\ncommand = x\nthis is not a key\n",
       "{path}:3: syntax: 'this is not a key' is not a comment, [group] or key = value; expected "
       "a GLib key file line" +
           kLeftOut},
      {"not_utf8", "[default]\ncommand = x\xff\n",
       "{path}:2: [default] command: Key file contains key “command” with value “x\xef\xbf\xbd” "
       "which is not UTF-8; expected a valid key file value" +
           kLeftOut},
      {"a_directory", "",
       "{path}: cannot read the file: Is a directory; expected a readable file" + kLeftOut},
      {"unknown_key", "[default]\ncommand = {fake}\nmaxx = 2\n",
       "{path}:3: [default] maxx: unknown key, ignored; expected one of allow_db, command, "
       "config_dir, description, max, name, special",
       false},
  };
}

TEST(BadAgentConfs, EachIsLeftOutWithOneWarningWhileTheOtherTypesRun) {
  auto s = test::bad_input::settings();
  s.agents = {test::fake_agent("ok")};
  SchedulerHarness h(s);
  const std::string fake = test::build_dir() + "/tests/agents/fake_agent/fake_agent";
  const auto table = rows();
  for (const auto& row : table) {
    std::string path = h.conf_dir() + "/agents/" + row.name + ".conf";
    if (row.text.empty())
      std::filesystem::create_directory(path);
    else
      std::ofstream(path) << fill(row.text, {{"fake", fake}});
  }
  h.start();
  long long good = h.queue("ok", "fine");
  std::vector<long long> pks;
  for (const auto& row : table) pks.push_back(h.queue(row.name, "x"));
  ASSERT_TRUE(h.wait_ended(good, 60s)) << h.log();
  EXPECT_EQ(h.endtext(good), "Completed");

  std::vector<std::string> about_agents;  // every warning about agents/*.conf
  for (const auto& w : test::bad_input::messages_at(h.log(), "WARNING"))
    if (w.rfind(h.conf_dir() + "/agents/", 0) == 0) about_agents.push_back(w);
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& row = table[i];
    SCOPED_TRACE(row.name);
    std::string path = h.conf_dir() + "/agents/" + row.name + ".conf";
    expected.push_back(fill(row.warning, {{"path", path}, {"name", row.name}}));
    ASSERT_TRUE(h.wait_ended(pks[i], 60s)) << h.log();
    EXPECT_EQ(h.endtext(pks[i]),
              row.left_out ? fmt::format("no agent type '{}' (no valid {})", row.name, path)
                           : "Completed");
  }
  std::sort(expected.begin(), expected.end());
  std::sort(about_agents.begin(), about_agents.end());
  EXPECT_EQ(about_agents, expected);
}

}  // namespace
