// THE KILL TEST (SPEC §8): the test plays the scheduler for kill_agent (Session + ItemLoop),
// feeds 2,000 items, SIGKILLs the agent at random instants at least 200 times and re-feeds
// every unacknowledged item, then compares the results with a clean run: identical, no
// duplicate, none missing. Also: a 1 ms heartbeat killed mid-write leaves no corrupt line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <deque>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "agent/db.hpp"
#include "agent/protocol.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace proto = agent::protocol;

const std::string& agent_path() {
  static const std::string p = test::build_dir() + "/tests/agents/kill_agent/kill_agent";
  return p;
}

// The scheduler's side of one agent run (SPEC §2.3, §2.5): feeds lines from `todo`, keeps the
// unacknowledged ones in `in_flight`, and checks that every acknowledged item is committed.
struct Feeder {
  Feeder(std::deque<std::string>& t, agent::Database& c) : todo(t), check(c) {}
  std::deque<std::string>& todo;
  agent::Database& check;
  std::size_t acked = 0;
  std::deque<std::string> in_flight;
  unsigned window = 1;
  bool started = false;
  bool closed = false;

  void feed(test::Child& child) {
    while (!closed && in_flight.size() < window && !todo.empty()) {
      child.write(todo.front() + "\n");
      in_flight.push_back(std::move(todo.front()));
      todo.pop_front();
    }
    if (!closed && started && todo.empty() && in_flight.empty()) {
      child.close_stdin();
      closed = true;
    }
  }

  void on_line(test::Child& child, const std::string& line) {
    const auto m = proto::parse_agent_line(line, proto::Dialect::Seed);
    if (!m) return;
    if (const auto* w = std::get_if<proto::msg::Window>(&*m)) window = w->n;
    if (const auto* l = std::get_if<proto::msg::Log>(&*m)) ADD_FAILURE() << "agent: " << l->text;
    if (!std::holds_alternative<proto::msg::Ok>(*m)) return;
    if (started) {
      ASSERT_FALSE(in_flight.empty()) << "an OK with nothing in flight";
      // Acknowledged means committed: its 3 rows must be there now.
      EXPECT_EQ(check.exec("SELECT count(*) FROM kill_result WHERE item = $1", {in_flight.front()})
                    .get(0, 0),
                "3")
          << in_flight.front();
      in_flight.pop_front();
      ++acked;
    }
    started = true;
    feed(child);
  }
};

// When to SIGKILL a run: `delay` after the agent's `after_oks`-th OK (0 = after the spawn).
// Counting from the agent's own progress keeps the kills meaningful however slow the
// machine is: most land while items are handled, committed or acknowledged.
struct KillPlan {
  bool kill = true;
  int after_oks = 0;
  std::chrono::microseconds delay{0};
};

// One agent run until it exits by itself (false) or is killed as planned (true).
bool run_agent(const std::vector<std::string>& argv, Feeder& feeder, const KillPlan& plan) {
  test::Child child(argv);
  auto kill_at = Clock::time_point::max();
  int oks = 0;
  if (plan.kill && plan.after_oks == 0) kill_at = Clock::now() + plan.delay;
  for (;;) {
    if (Clock::now() >= kill_at) {
      child.signal_group(SIGKILL);
      EXPECT_TRUE(child.wait().has_value());
      return true;
    }
    const auto left = kill_at == Clock::time_point::max()
                          ? std::chrono::milliseconds(1000)
                          : std::chrono::ceil<std::chrono::milliseconds>(kill_at - Clock::now());
    if (const auto line = child.read_line(left)) {
      if (*line == "OK" && plan.kill && ++oks == plan.after_oks)
        kill_at = Clock::now() + plan.delay;
      feeder.on_line(child, *line);
      continue;
    }
    if (const auto status = child.wait(std::chrono::milliseconds(0))) {  // it exited by itself
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "kill_agent ended with status " << *status << ": "
          << child.read_stderr_all(std::chrono::seconds(1));
      return false;
    }
  }
}

std::vector<std::string> items(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("item-" + std::to_string(i));
  return out;
}

std::vector<std::string> base_argv(const std::string& conninfo, int variant, int delay_us) {
  // Alternate one item per transaction (window 1), groups of 4 with a window of 8 and
  // libagent's default grouping (its window); and, every third run, the way the rows are
  // written: send_row() (one INSERT per group), send() (queued statements) or exec().
  const char* writes[] = {"row", "send", "exec"};
  std::vector<std::string> argv{agent_path(),
                                "--scheduler_start",
                                "--db=" + conninfo,
                                "--delay-us",
                                std::to_string(delay_us),
                                "--heartbeat-ms",
                                "5",
                                "--write",
                                writes[(variant / 3) % 3]};
  switch (variant % 3) {
    case 0:
      argv.insert(argv.end(), {"--window", "1", "--group", "1"});
      break;
    case 1:
      argv.insert(argv.end(), {"--window", "8", "--group", "4"});
      break;
    default:
      argv.insert(argv.end(), {"--group", "0"});
      break;
  }
  return argv;
}

TEST(Kill, SigkillAtRandomInstantsGivesTheResultsOfOneCleanRun) {
  constexpr int n_items = 2000;
  constexpr int min_kills = 200;
  test::TempDatabase killed_db, clean_db;
  jobline::schema::install(killed_db.conninfo());
  jobline::schema::install(clean_db.conninfo());

  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> after_oks(0, 8);    // 0: during the agent's start
  std::uniform_int_distribution<int> delay_us(0, 4000);  // an item takes about 2 ms
  std::deque<std::string> todo;
  for (auto& i : items(n_items)) todo.push_back(i);
  agent::Database check(killed_db.conninfo());
  Feeder feeder{todo, check};
  int kills = 0, runs = 0;
  const auto started = Clock::now();
  while (feeder.acked < n_items) {
    ASSERT_LT(runs, 10 * min_kills) << "no progress";
    feeder.in_flight.clear();
    feeder.window = 1;
    feeder.started = feeder.closed = false;
    KillPlan plan{kills < min_kills, after_oks(rng), std::chrono::microseconds(delay_us(rng))};
    if (plan.after_oks == 0) plan.delay *= 5;
    if (run_agent(base_argv(killed_db.conninfo(), runs, 300), feeder, plan)) {
      ++kills;
      // Not acknowledged: fed again, first, in order (SPEC §2.5).
      for (auto it = feeder.in_flight.rbegin(); it != feeder.in_flight.rend(); ++it) {
        todo.push_front(*it);
      }
    } else {
      ASSERT_TRUE(feeder.in_flight.empty() && todo.empty())
          << "the agent exited with items unacknowledged";
    }
    ++runs;
    if (::testing::Test::HasFatalFailure()) return;
  }
  const auto killed_secs =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();

  // The clean run: every item once, no kill, no delay.
  std::deque<std::string> clean_todo;
  for (auto& i : items(n_items)) clean_todo.push_back(i);
  agent::Database clean_check(clean_db.conninfo());
  Feeder clean{clean_todo, clean_check};
  EXPECT_FALSE(run_agent(base_argv(clean_db.conninfo(), 1, 0), clean, KillPlan{false}));
  EXPECT_EQ(clean.acked, static_cast<std::size_t>(n_items));

  const std::string q = "SELECT item, part, value FROM kill_result ORDER BY item, part";
  const auto got = killed_db.rows(q);
  const auto want = clean_db.rows(q);
  EXPECT_EQ(want.size(), static_cast<std::size_t>(3 * n_items));
  EXPECT_EQ(killed_db.query("SELECT count(*) FROM (SELECT item, part FROM kill_result "
                            "GROUP BY item, part HAVING count(*) > 1) d"),
            "0")
      << "duplicate results";
  EXPECT_EQ(killed_db.query("SELECT count(DISTINCT agent_fk) FROM kill_result"), "1");
  EXPECT_EQ(killed_db.query("SELECT count(*) FROM agent"), "1");
  EXPECT_EQ(killed_db.query("SELECT count(*) FROM agent_item_done"), std::to_string(n_items));
  const bool same = got == want;
  EXPECT_TRUE(same) << "the results after kills differ from a clean run";
  EXPECT_GE(kills, min_kills);
  std::cout << "kill test: " << kills << " SIGKILLs over " << runs << " agent runs in "
            << killed_secs << " ms; " << feeder.acked << " items acknowledged; result tables "
            << (same ? "matched" : "DIFFERED") << " (" << got.size() << " rows)" << std::endl;
}

// Every complete line an agent wrote before a SIGKILL parses as a protocol message; at most a
// trailing fragment of one line remains, and it is a prefix of a valid line.
TEST(Kill, HeartbeatKilledMidWriteLeavesNoCorruptLine) {
  test::TempDatabase db;
  jobline::schema::install(db.conninfo());
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> run_us(0, 5000);
  int heartbeats = 0, partials = 0;
  constexpr int runs = 40;
  for (int k = 0; k < runs; ++k) {
    test::Child child({agent_path(), "--scheduler_start", "--db=" + db.conninfo(), "--heartbeat-ms",
                       "1", "--delay-us", "500", "--window", "4", "--group", "2"});
    std::string data;
    for (int i = 0; i < 50; ++i) data += "hb-" + std::to_string(k) + "-" + std::to_string(i) + "\n";
    child.write(data);
    // Once it has started writing, kill it at a random instant among 1 ms heartbeats.
    auto first = child.read_line(std::chrono::seconds(30));
    ASSERT_TRUE(first.has_value()) << "kill_agent wrote nothing";
    const auto until = Clock::now() + std::chrono::microseconds(run_us(rng));
    while (Clock::now() < until) {  // spinning: a sleep would round to the scheduler's tick
    }
    child.signal_group(SIGKILL);
    ASSERT_TRUE(child.wait().has_value());
    const std::string bytes = *first + "\n" + child.read_all(std::chrono::seconds(5));

    proto::LineSplitter splitter;
    std::vector<proto::LineSplitter::Line> lines;
    splitter.feed(bytes, lines);
    for (const auto& line : lines) {
      ASSERT_FALSE(line.cut);
      const auto m = proto::parse_agent_line(line.text, proto::Dialect::Seed);
      ASSERT_TRUE(m.has_value()) << "blank line";
      const bool known = std::holds_alternative<proto::msg::Ok>(*m) ||
                         std::holds_alternative<proto::msg::Heartbeat>(*m) ||
                         std::holds_alternative<proto::msg::ItemsProcessed>(*m) ||
                         std::holds_alternative<proto::msg::Window>(*m);
      ASSERT_TRUE(known) << "corrupt line: \"" << line.text << "\"";
      if (std::holds_alternative<proto::msg::Heartbeat>(*m)) ++heartbeats;
    }
    const std::string partial(splitter.partial());
    if (!partial.empty()) {
      ++partials;
      const bool prefix =
          std::string("Heartbeat").starts_with(partial) || std::string("OK").starts_with(partial) ||
          std::string("WINDOW 4").starts_with(partial) || partial.starts_with("ItemsProcessed") ||
          std::string("ItemsProcessed").starts_with(partial);
      EXPECT_TRUE(prefix) << "partial line \"" << partial << "\"";
    }
  }
  EXPECT_GT(heartbeats, runs) << "the heartbeat did not run";
  std::cout << "heartbeat kill test: " << runs << " SIGKILLs, " << heartbeats << " heartbeats, "
            << partials << " trailing partial lines, no corrupt line" << std::endl;
}

}  // namespace
