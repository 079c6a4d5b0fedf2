// Group commit in the KILL-safe loop (issue 18) and the pipeline under it: a kill between an
// item's write and its group's commit loses and duplicates nothing; a group is committed as
// soon as input pauses; Database::send()/send_row() go with the next exec, in order, and their
// errors surface there; a failed transaction does not "commit".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/agent_pk.hpp"
#include "agent/db.hpp"
#include "agent/item_loop.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

const std::string& agent_path() {
  static const std::string p = test::build_dir() + "/tests/agents/kill_agent/kill_agent";
  return p;
}

// The scheduler's side (SPEC §2.5) for a handful of items: feeds up to the window, and on each
// OK checks that the oldest item in flight is committed (its 3 rows are there).
struct MiniFeeder {
  std::deque<std::string> todo;
  std::deque<std::string> in_flight;
  unsigned window = 1;
  bool started = false;
  std::size_t acked = 0;

  void on_line(test::Child& child, agent::Database& check, const std::string& line) {
    if (line.rfind("WINDOW ", 0) == 0) window = static_cast<unsigned>(std::stoul(line.substr(7)));
    if (line.rfind("ERROR", 0) == 0 || line.rfind("FATAL", 0) == 0) ADD_FAILURE() << line;
    if (line != "OK") return;
    if (started) {
      ASSERT_FALSE(in_flight.empty()) << "an OK with nothing in flight";
      EXPECT_EQ(check.exec("SELECT count(*) FROM kill_result WHERE item = $1", {in_flight.front()})
                    .get(0, 0),
                "3")
          << in_flight.front() << " acknowledged before its commit";
      in_flight.pop_front();
      ++acked;
    }
    started = true;
    std::string lines;
    while (in_flight.size() < window && !todo.empty()) {
      lines += todo.front() + "\n";
      in_flight.push_back(todo.front());
      todo.pop_front();
    }
    if (!lines.empty()) child.write(lines);
  }
};

std::vector<std::string> agent_argv(const std::string& conninfo, std::vector<std::string> more) {
  std::vector<std::string> argv{agent_path(), "--scheduler_start", "--db=" + conninfo};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

TEST(GroupCommit, AKillBetweenTheWriteAndTheCommitLosesAndDuplicatesNothing) {
  for (const char* write : {"row", "send", "exec"}) {
    SCOPED_TRACE(write);
    test::TempDatabase tdb;
    jobline::schema::install(tdb.conninfo());
    test::TempDir dir;
    const std::string stalled = dir.path() + "/stalled";
    agent::Database check(tdb.conninfo());
    MiniFeeder feeder;
    for (int i = 0; i < 10; ++i) feeder.todo.push_back("item-" + std::to_string(i));

    {
      test::Child child(
          agent_argv(tdb.conninfo(), {"--group", "4", "--window", "8", "--write", write,
                                      "--stall-on", "item-5", "--stall-file", stalled}));
      // Until the agent stalls after writing item-5's rows, inside its group's transaction.
      while (!std::filesystem::exists(stalled)) {
        if (auto line = child.read_line(std::chrono::milliseconds(20)))
          feeder.on_line(child, check, *line);
        ASSERT_FALSE(child.wait(std::chrono::milliseconds(0)).has_value()) << "agent exited";
        if (::testing::Test::HasFatalFailure()) return;
      }
      // Its OKs for the groups before were written before it went on: take them all.
      while (auto line = child.read_line(std::chrono::milliseconds(0)))
        feeder.on_line(child, check, *line);
      const std::deque<std::string>& unacked = feeder.in_flight;
      ASSERT_NE(std::find(unacked.begin(), unacked.end(), "item-5"), unacked.end())
          << "item-5 was acknowledged before its commit";
      // The rows are in the server, uncommitted: invisible, and the transaction is open.
      EXPECT_EQ(tdb.query("SELECT count(*) FROM kill_result WHERE item = 'item-5'"), "0");
      EXPECT_EQ(tdb.query("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND state = 'idle in transaction'"),
                "1");
      child.signal_group(SIGKILL);
      ASSERT_TRUE(child.wait().has_value());
    }

    // Everything unacknowledged is fed again, first (SPEC §2.5), to a new agent.
    for (auto it = feeder.in_flight.rbegin(); it != feeder.in_flight.rend(); ++it)
      feeder.todo.push_front(*it);
    feeder.in_flight.clear();
    feeder.window = 1;
    feeder.started = false;
    test::Child child(
        agent_argv(tdb.conninfo(), {"--group", "4", "--window", "8", "--write", write}));
    while (feeder.acked < 10) {
      auto line = child.read_line(std::chrono::seconds(30));
      ASSERT_TRUE(line.has_value())
          << "agent stopped: " << child.read_stderr_all(std::chrono::seconds(1));
      feeder.on_line(child, check, *line);
      if (::testing::Test::HasFatalFailure()) return;
    }
    child.close_stdin();
    const auto status = child.wait();
    ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);

    EXPECT_EQ(tdb.query("SELECT count(*) FROM kill_result"), "30");
    EXPECT_EQ(tdb.query("SELECT count(*) FROM (SELECT item, part FROM kill_result "
                        "GROUP BY item, part HAVING count(*) > 1) d"),
              "0");
    EXPECT_EQ(tdb.query("SELECT count(DISTINCT item) FROM kill_result"), "10");
    EXPECT_EQ(tdb.query("SELECT count(*) FROM agent_item_done"), "10");
  }
}

TEST(GroupCommit, AGroupIsCommittedAtOnceWhenInputPauses) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  agent::Database check(tdb.conninfo());
  // libagent's defaults: groups of agent::default_group, and the window widened to 2 groups.
  test::Child child(agent_argv(tdb.conninfo(), {"--group", "0"}));
  ASSERT_EQ(child.read_line(),
            std::optional<std::string>("WINDOW " + std::to_string(2 * agent::default_group)));
  ASSERT_EQ(child.read_line(), std::optional<std::string>("OK"));
  // A trickle: the next item only after the OK of the one before. Were a group held back to
  // fill, no OK would come.
  for (int i = 0; i < 5; ++i) {
    const std::string item = "trickle-" + std::to_string(i);
    child.write(item + "\n");
    std::vector<std::string> seen;
    ASSERT_TRUE(child.wait_for_line("OK", std::chrono::seconds(30), &seen)) << item;
    EXPECT_EQ(seen, std::vector<std::string>{"ItemsProcessed 1"});
    EXPECT_EQ(check.exec("SELECT count(*) FROM kill_result WHERE item = $1", {item}).get(0, 0),
              "3");
  }
  child.close_stdin();
  const auto status = child.wait();
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_EQ(tdb.query("SELECT count(*) FROM agent_item_done"), "5");
}

TEST(GroupCommit, DefaultGroupsCommitManyItemsPerTransaction) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  agent::Database db(tdb.conninfo());
  db.exec("CREATE TABLE r (item text NOT NULL)");
  const int pk = agent::agent_pk(db, "group_test", "1", "");
  std::vector<std::string> argv_storage{"group_test"};
  std::vector<char*> argv{argv_storage[0].data(), nullptr};
  int argc = 1;
  agent::Session session{argc, argv.data(), {"group_test"}};
  std::vector<std::string> items;
  for (int i = 0; i < 200; ++i) items.push_back("i" + std::to_string(i));
  items.push_back("i7");  // again: skipped
  session.set_items(items);
  agent::ItemLoop loop(session, db, {pk, "", agent::default_group, true});
  const auto stats = loop.run([](agent::Database& tx, const std::string& item) {
    tx.send_row("INSERT INTO r (item)", "($1)", {item});
  });
  EXPECT_EQ(stats.handled, 200u);
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_EQ(stats.transactions, (201 + agent::default_group - 1) / agent::default_group);
  EXPECT_EQ(tdb.query("SELECT count(*) FROM r"), "200");
  EXPECT_EQ(tdb.query("SELECT count(DISTINCT item) FROM r"), "200");
  EXPECT_FALSE(db.pipelined());
}

// ---- the pipeline under the loop (agent::Database) ------------------------------------------

struct Db {
  test::TempDatabase tdb;
  agent::Database db{tdb.conninfo()};
  Db() { db.exec("CREATE TABLE t (k integer PRIMARY KEY, v text)"); }
};

TEST(Pipeline, SentStatementsGoWithTheNextExecInOrder) {
  Db f;
  agent::Transaction tx(f.db);
  f.db.send("INSERT INTO t VALUES ($1, $2)", {"1", "one"});
  EXPECT_TRUE(f.db.pipelined());
  f.db.send_row("INSERT INTO t (k, v)", "($1::integer + 1, $2)", {"1", std::nullopt});
  f.db.send("UPDATE t SET v = 'two' WHERE k = 2 AND v IS NULL");  // after the row before it
  EXPECT_EQ(f.db.exec("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM t").get(0, 0),
            "1=one,2=two");
  EXPECT_FALSE(f.db.pipelined());
  tx.commit();
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM t"), "2");
}

TEST(Pipeline, ManyRowsOfSeveralInsertsArriveWhole) {
  Db f;
  f.db.exec("CREATE TABLE u (k integer REFERENCES t, w text)");
  agent::Transaction tx(f.db);
  for (int i = 1; i <= 3000; ++i) {  // more than one statement holds
    const std::string k = std::to_string(i);
    f.db.send_row("INSERT INTO t (k, v)", "($1, $2)",
                  {k, i % 7 == 0 ? agent::Database::Param() : agent::Database::Param(k)});
    f.db.send_row("INSERT INTO u (k, w)", "($1, md5($2))", {k, k});  // rows of t come first
  }
  f.db.sync();
  tx.commit();
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM t"), "3000");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM t WHERE v IS NULL"), "428");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM t WHERE v <> k::text"), "0");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM u WHERE w = md5(k::text)"), "3000");
}

TEST(Pipeline, AFailedSentStatementIsThrownByTheNextExecAndRollbackStillWorks) {
  Db f;
  agent::Transaction tx(f.db);
  f.db.send("INSERT INTO t VALUES (1, 'a')");
  f.db.send("INSERT INTO t VALUES (1, 'again')");  // unique violation
  f.db.send("INSERT INTO t VALUES (3, 'c')");      // skipped by the server
  try {
    f.db.exec("SELECT 1");
    ADD_FAILURE() << "no error";
  } catch (const agent::Error& e) {
    EXPECT_EQ(e.sqlstate(), "23505") << e.what();
  }
  EXPECT_FALSE(f.db.pipelined());
  EXPECT_THROW(tx.commit(), agent::Error);  // the transaction had failed
  EXPECT_FALSE(f.db.in_transaction());
  EXPECT_EQ(f.db.exec("SELECT count(*) FROM t").get(0, 0), "0");

  // Queued and then rolled back: nothing arrives, and the connection goes on.
  f.db.begin();
  f.db.send("INSERT INTO t VALUES (4, 'd')");
  f.db.send("INSERT INTO t VALUES (4, 'again')");
  f.db.send_row("INSERT INTO t (k, v)", "($1, $2)", {"5", "e"});
  f.db.rollback();
  EXPECT_FALSE(f.db.in_transaction());
  EXPECT_EQ(f.db.exec("SELECT count(*) FROM t").get(0, 0), "0");
}

TEST(Pipeline, AStatementThatFailedToPrepareIsPreparedAgainLater) {
  Db f;
  const char* sql = "INSERT INTO later (k) VALUES ($1)";
  f.db.send(sql, {"1"});
  EXPECT_THROW(f.db.sync(), agent::Error);  // no such table yet
  f.db.exec("CREATE TABLE later (k integer)");
  f.db.send(sql, {"1"});
  f.db.send(sql, {"2"});
  f.db.sync();
  EXPECT_EQ(f.tdb.query("SELECT sum(k) FROM later"), "3");
}

TEST(Pipeline, CommitOfAFailedTransactionThrows) {
  Db f;
  {
    agent::Transaction tx(f.db);
    f.db.exec("INSERT INTO t VALUES (1, 'a')");
    EXPECT_THROW(f.db.exec("INSERT INTO t VALUES (1, 'b')"), agent::Error);
    try {
      tx.commit();
      ADD_FAILURE() << "a failed transaction committed";
    } catch (const agent::Error& e) {
      EXPECT_EQ(e.sqlstate(), "25P02") << e.what();
    }
  }
  EXPECT_FALSE(f.db.in_transaction());
  EXPECT_EQ(f.db.exec("SELECT count(*) FROM t").get(0, 0), "0");
}

}  // namespace
