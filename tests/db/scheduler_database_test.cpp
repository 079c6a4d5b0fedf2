// The scheduler's Database (common/database.hpp) against a PostgreSQL cluster of the test's
// own that it restarts and stops, the loop driven step by step: a kept connection loses
// nothing and keeps the order, re-sends the statement in flight and one that a deadlock
// aborted, keeps one coalesced write per key, LISTENs again and reports each outage once; the
// writes of one loop pass are one transaction, and a failed write (or commit) stays with its
// statement; a connection that is not kept fails its statements with a "connection lost"
// error.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>
#include <string>
#include <vector>

#include "database.hpp"
#include "private_cluster.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using sched::Database;
using sched::QueryResult;

// Runs the default main context until `done()` or `timeout`; returns done().
bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  bool expired = false;
  sched::Source deadline = sched::Source::timer(timeout, [&] { expired = true; });
  while (!done() && !expired) g_main_context_iteration(nullptr, TRUE);
  return done();
}

class KeptDatabase : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.query(
        "CREATE TABLE log(n serial PRIMARY KEY, what text);"
        "CREATE TABLE counter(k int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)");
    sched::ConnectionEvents events;
    events.lost = [this](const std::string& why) { lost_.push_back(why); };
    events.up = [this](sched::Clock::duration outage) { ups_.push_back(outage); };
    conn_.keep_connected(events);
    conn_.connect_async();
    ASSERT_TRUE(run_until([&] { return conn_.connected(); }));
  }

  // Queues an INSERT of `what` whose answer is recorded in answered_.
  void insert(const std::string& what) {
    conn_.query("INSERT INTO log(what) VALUES ($1)", {what}, [this, what](const QueryResult& r) {
      answered_.push_back(what + (r.ok() ? "" : " failed: " + r.error()));
    });
  }

  test::PrivateCluster cluster_;
  test::TempDatabase db_{cluster_.conninfo()};
  Database conn_{db_.conninfo()};
  std::vector<std::string> lost_, answered_;
  std::vector<sched::Clock::duration> ups_;  // the first connection, then each return
};

TEST_F(KeptDatabase, AnOutageLosesNothingAndKeepsTheOrder) {
  std::vector<std::string> notified;
  conn_.listen("news", [&](const std::string& payload) { notified.push_back(payload); });
  insert("before");
  ASSERT_TRUE(run_until([&] { return answered_.size() == 1; }));

  cluster_.down();
  ASSERT_TRUE(run_until([&] { return lost_.size() == 1; })) << "the loss is noticed at once";
  for (int i = 1; i <= 3; ++i) {
    insert("during " + std::to_string(i));
    for (int v = 1; v <= 100; ++v)  // one write per key waits: the latest
      conn_.write_latest("counter", "UPDATE counter SET v = $1 WHERE k = 1", {std::to_string(v)});
  }
  EXPECT_EQ(conn_.pending(), 4u);
  // Several attempts fail meanwhile (0.1 s, 0.2 s, 0.4 s ...): still one "lost".
  run_until([] { return false; }, 1500ms);
  EXPECT_EQ(lost_.size(), 1u);
  EXPECT_EQ(answered_.size(), 1u);
  EXPECT_FALSE(conn_.last_error().empty());

  cluster_.up();
  ASSERT_TRUE(run_until([&] { return answered_.size() == 4; })) << conn_.last_error();
  EXPECT_EQ(answered_, (std::vector<std::string>{"before", "during 1", "during 2", "during 3"}));
  EXPECT_EQ(db_.rows("SELECT what FROM log ORDER BY n"), answered_);
  ASSERT_TRUE(run_until([&] { return conn_.pending() == 0; }));
  EXPECT_EQ(db_.query("SELECT v FROM counter"), "100");
  EXPECT_EQ(lost_.size(), 1u);
  ASSERT_EQ(ups_.size(), 2u);
  EXPECT_EQ(ups_[0], sched::Clock::duration::zero());  // the first connection: no outage
  EXPECT_GE(ups_[1], 1500ms);                          // at least what was waited above
  // LISTEN was made again on the new connection.
  db_.query("NOTIFY news, 'after'");
  ASSERT_TRUE(run_until([&] { return !notified.empty(); }));
  EXPECT_EQ(notified, std::vector<std::string>{"after"});
}

// The statement in flight when the server goes away is sent again on the next connection.
TEST_F(KeptDatabase, TheStatementInFlightIsSentAgain) {
  bool answered = false;
  QueryResult result;
  conn_.query("INSERT INTO log(what) SELECT 'slow' FROM pg_sleep(2)", {},
              [&](const QueryResult& r) {
                answered = true;
                result = r;
              });
  ASSERT_TRUE(test::eventually([&] {
    return db_.query(
               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "
               "log(what) SELECT%' AND state = 'active'") == "1";
  }));
  cluster_.restart();
  ASSERT_TRUE(run_until([&] { return answered; }));
  EXPECT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.affected(), 1);
  EXPECT_EQ(db_.query("SELECT count(*) FROM log WHERE what = 'slow'"), "1");
  ASSERT_EQ(lost_.size(), 1u);
  EXPECT_NE(lost_[0].find("terminating connection due to administrator command"), std::string::npos)
      << lost_[0];
}

// In pipeline mode (the queue connection's) several statements are in flight at once: each is
// its own transaction (an error stays with its statement), results come back in order, and
// when the server goes away every statement in flight is sent again, in order.
TEST_F(KeptDatabase, PipelinedStatementsKeepTheirOrderAndErrorsAcrossARestart) {
  Database piped{db_.conninfo()};
  piped.pipeline(8);
  piped.keep_connected({});
  piped.connect_async();
  ASSERT_TRUE(run_until([&] { return piped.connected(); }));
  std::vector<std::string> answers;
  auto note = [&](const std::string& what) {
    return [&answers, what](const QueryResult& r) {
      answers.push_back(what + (r.ok() ? "" : " failed: " + r.error()));
    };
  };
  piped.query("INSERT INTO log(what) SELECT 'slow' FROM pg_sleep(2)", {}, note("slow"));
  piped.query("SELECT 1 / 0", {}, note("division"));
  piped.query("INSERT INTO log(what) VALUES ('a')", {}, note("a"));
  piped.query("INSERT INTO log(what) VALUES ('b')", {}, note("b"));
  EXPECT_EQ(piped.pending(), 4u);
  ASSERT_TRUE(test::eventually([&] {
    return db_.query(
               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "
               "log(what) SELECT%' AND state = 'active'") == "1";
  }));
  cluster_.restart();
  ASSERT_TRUE(run_until([&] { return answers.size() == 4; }));
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0], "slow");
  EXPECT_EQ(answers[1].rfind("division failed: ERROR:  division by zero", 0), 0u) << answers[1];
  EXPECT_EQ(answers[2], "a");
  EXPECT_EQ(answers[3], "b");
  EXPECT_EQ(db_.rows("SELECT what FROM log ORDER BY n"),
            (std::vector<std::string>{"slow", "a", "b"}));
}

// On a pipelined connection a statement named by prepare() is prepared once per connection,
// with its first use, then only executed; uses sent while that prepare is in flight go as they
// are. Results and errors are those of the statement itself (a prepare that fails gives its
// own error, again on the next use), and after a restart it is prepared again.
TEST_F(KeptDatabase, PreparedStatementsAreMadeOncePerConnection) {
  Database piped{db_.conninfo()};
  piped.pipeline(8);
  piped.keep_connected({});
  const std::string insert = "INSERT INTO log(what) VALUES ($1) RETURNING n";
  const std::string divide = "SELECT 10 / $1::int";
  const std::string broken = "SELECT no_such_column FROM log WHERE n = $1";
  for (const auto& sql : {insert, divide, broken, insert}) piped.prepare(sql);
  piped.connect_async();
  ASSERT_TRUE(run_until([&] { return piped.connected(); }));
  std::vector<std::string> answers;
  // Queues `sql` and runs the loop until every answer is in.
  auto run = [&](const std::string& what, const std::string& sql, sched::Params params) {
    piped.query(sql, std::move(params), [&answers, what](const QueryResult& r) {
      answers.push_back(what + " " + (r.ok() ? (r.rows() ? r.get(0, 0) : "-") : r.error()));
    });
  };
  auto settle = [&] { return run_until([&] { return piped.pending() == 0; }); };
  // How often the statement prepared on this connection with text $1 ran, and how many
  // statements are prepared there.
  const std::string executions =
      "SELECT (SELECT generic_plans + custom_plans FROM pg_prepared_statements "
      "WHERE statement = $1) || ' of ' || (SELECT count(*) FROM pg_prepared_statements)";

  run("a", insert, {"a"});  // prepared with its first use
  ASSERT_TRUE(settle());
  run("b", insert, {"b"});
  run("c", insert, {"c"});
  run("divide by 0", divide, {"0"});  // prepared, then executed: the execution fails
  ASSERT_TRUE(settle());
  run("divide by 5", divide, {"5"});
  run("broken", broken, {"1"});        // its prepare fails ...
  run("broken again", broken, {"1"});  // ... while this one is in flight: sent as it is
  ASSERT_TRUE(settle());
  run("broken once more", broken, {"1"});  // prepared again, failing again
  run("insert:", executions, {insert});
  ASSERT_TRUE(settle());
  EXPECT_EQ(answers, (std::vector<std::string>{
                         "a 1", "b 2", "c 3", "divide by 0 ERROR:  division by zero",
                         "divide by 5 2", "broken ERROR:  column \"no_such_column\" does not exist",
                         "broken again ERROR:  column \"no_such_column\" does not exist",
                         "broken once more ERROR:  column \"no_such_column\" does not exist",
                         "insert: 3 of 2"}));

  cluster_.restart();
  answers.clear();
  run("d", insert, {"d"});
  ASSERT_TRUE(settle());
  run("insert:", executions, {insert});
  ASSERT_TRUE(settle());
  EXPECT_EQ(answers, (std::vector<std::string>{"d 4", "insert: 1 of 1"}));
}

// A pipelined, kept connection to the test's database (as the scheduler's queue connection).
class GroupedWrites : public KeptDatabase {
 protected:
  void SetUp() override {
    KeptDatabase::SetUp();
    piped_.pipeline(8);
    piped_.prepare(kInsert);  // made in the first group, ahead of its first use
    piped_.keep_connected({});
    piped_.connect_async();
    ASSERT_TRUE(run_until([&] { return piped_.connected(); }));
  }

  // Records the answer of `what` in order_, and its transaction in xid_.
  sched::ResultFn answer(const std::string& what) {
    return [this, what](const QueryResult& r) {
      order_.push_back(what + (r.ok() ? "" : " failed: " + r.error()));
      if (r.ok() && r.rows() > 0) xid_[what] = r.get(0, 0);
    };
  }
  void insert(const std::string& what) { piped_.write(kInsert, {what}, answer(what)); }
  bool settle() {
    return run_until([&] { return piped_.pending() == 0; });
  }

  static constexpr const char* kInsert =
      "INSERT INTO log(what) VALUES ($1) RETURNING pg_current_xact_id()::text";
  Database piped_{db_.conninfo()};
  std::vector<std::string> order_;
  std::map<std::string, std::string> xid_;
};

// The writes queued one after another in a pass of the loop are one transaction; a query
// between them ends the group before it, the order holds, and a group holds at most as many
// statements as may be in flight (8 here).
TEST_F(GroupedWrites, WritesOfOnePassShareOneTransaction) {
  insert("a");
  insert("b");
  piped_.write_latest("v", "UPDATE counter SET v = 1 WHERE k = 1 RETURNING pg_current_xact_id()",
                      {});
  piped_.write_latest("v", "UPDATE counter SET v = 2 WHERE k = 1 RETURNING pg_current_xact_id()",
                      {});  // the one before is dropped
  piped_.query("SELECT pg_current_xact_id()::text", {}, answer("query"));
  insert("c");
  insert("d");
  EXPECT_EQ(piped_.pending(), 6u);
  ASSERT_TRUE(settle());
  EXPECT_EQ(order_, (std::vector<std::string>{"a", "b", "query", "c", "d"}));
  EXPECT_EQ(xid_["a"], xid_["b"]);
  EXPECT_EQ(xid_["c"], xid_["d"]);
  EXPECT_NE(xid_["a"], xid_["c"]);
  EXPECT_EQ(db_.query("SELECT v FROM counter"), "2");
  EXPECT_EQ(db_.query("SELECT count(DISTINCT xmin::text) FROM log"), "2");

  // 20 writes in one pass: groups of 8, 8 and 4.
  db_.query("TRUNCATE log");
  order_.clear();
  for (int i = 0; i < 20; ++i) insert(std::to_string(i));
  ASSERT_TRUE(settle());
  EXPECT_EQ(order_.size(), 20u);
  EXPECT_EQ(db_.rows("SELECT count(*) FROM log GROUP BY xmin::text::bigint ORDER BY 1 DESC"),
            (std::vector<std::string>{"8", "8", "4"}));
}

// A write that fails rolls its group back: each write of the group is sent again on its own, so
// the others are done once and the error stays with its statement.
TEST_F(GroupedWrites, AFailedWriteIsSentAloneAndTheOthersAreDoneOnce) {
  insert("a");
  piped_.write("INSERT INTO log(what) VALUES ((1 / $1::int)::text)", {"0"}, answer("divide"));
  insert("b");
  ASSERT_TRUE(settle());
  EXPECT_EQ(order_,
            (std::vector<std::string>{"a", "divide failed: ERROR:  division by zero", "b"}));
  EXPECT_EQ(db_.rows("SELECT what FROM log ORDER BY n"), (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(xid_["a"], xid_["b"]);
}

// An error at commit (here a deferred constraint's) is its transaction's: a group that meets one
// is sent again write by write, so the error stays with the write that caused it.
TEST_F(GroupedWrites, AnErrorAtCommitStaysWithItsWrite) {
  db_.query(
      "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF NEW.what LIKE 'refused%' THEN RAISE EXCEPTION 'refused at commit'; END IF; "
      "RETURN NULL; END $$; "
      "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON log DEFERRABLE INITIALLY DEFERRED "
      "FOR EACH ROW EXECUTE FUNCTION refuse()");
  insert("a");
  insert("refused");
  insert("b");
  ASSERT_TRUE(settle());
  piped_.query(kInsert, {"refused alone"}, answer("alone"));
  ASSERT_TRUE(settle());
  EXPECT_EQ(order_, (std::vector<std::string>{"a", "refused failed: ERROR:  refused at commit", "b",
                                              "alone failed: ERROR:  refused at commit"}));
  EXPECT_EQ(db_.rows("SELECT what FROM log ORDER BY n"), (std::vector<std::string>{"a", "b"}));
}

// A group in flight when the server goes away is sent again, whole, on the next connection:
// each of its writes is done once.
TEST_F(GroupedWrites, AGroupInFlightIsSentAgainAfterARestart) {
  piped_.write(
      "INSERT INTO log(what) SELECT 'slow' FROM pg_sleep(2) RETURNING pg_current_xact_id()", {},
      answer("slow"));
  insert("a");
  insert("b");
  run_until([] { return false; }, 100ms);  // the pass ends: the group is sent
  ASSERT_TRUE(test::eventually([&] {
    return db_.query(
               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "
               "log(what) SELECT%' AND state = 'active'") == "1";
  }));
  cluster_.restart();
  ASSERT_TRUE(settle());
  EXPECT_EQ(order_, (std::vector<std::string>{"slow", "a", "b"}));
  EXPECT_EQ(db_.rows("SELECT what FROM log ORDER BY n"),
            (std::vector<std::string>{"slow", "a", "b"}));
  EXPECT_EQ(xid_["slow"], xid_["a"]);
  EXPECT_EQ(xid_["a"], xid_["b"]);
}

// PostgreSQL breaks a deadlock by aborting one of its statements; on a kept connection that
// statement is sent again and then succeeds, once.
TEST_F(KeptDatabase, AStatementAbortedByADeadlockIsSentAgain) {
  PGconn* other = PQconnectdb(db_.conninfo().c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  auto exec = [&](const char* sql) {
    PGresult* r = PQexec(other, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    return ok ? std::string() : error;
  };
  // The other transaction never looks for the deadlock itself: ours is the one aborted.
  ASSERT_EQ(exec("BEGIN; SET LOCAL deadlock_timeout = '60s'"), "");
  ASSERT_EQ(exec("SELECT pg_advisory_xact_lock(1)"), "");
  bool answered = false;
  QueryResult result;
  conn_.query(
      "INSERT INTO log(what) SELECT 'locked' "
      "FROM (SELECT pg_advisory_xact_lock(2), pg_advisory_xact_lock(1)) l",
      {}, [&](const QueryResult& r) {
        answered = true;
        result = r;
      });
  ASSERT_TRUE(test::eventually([&] {
    return db_.query(
               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "
               "log(what) SELECT ''locked''%' AND wait_event_type = 'Lock'") == "1";
  }));
  // Lock 2 is ours only once PostgreSQL has aborted the statement that held it.
  ASSERT_EQ(exec("SELECT pg_advisory_xact_lock(2)"), "");
  ASSERT_EQ(exec("COMMIT"), "");
  PQfinish(other);
  ASSERT_TRUE(run_until([&] { return answered; }));
  EXPECT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(db_.query("SELECT count(*) FROM log WHERE what = 'locked'"), "1");
  EXPECT_TRUE(lost_.empty());
}

// A connection that is not kept (feeds, DB:) fails what it holds; the owner reconnects.
TEST(NotKeptDatabase, FailsItsStatementsWithConnectionLost) {
  test::PrivateCluster cluster;
  test::TempDatabase db(cluster.conninfo());
  Database conn(db.conninfo());
  std::string broken;
  conn.on_broken([&](const std::string& why) { broken = why; });
  bool connected = false;
  conn.connect_async([&](bool ok, const std::string&) { connected = ok; });
  ASSERT_TRUE(run_until([&] { return connected; }));
  std::vector<QueryResult> results;
  auto keep = [&](const QueryResult& r) { results.push_back(r); };
  conn.query("SELECT pg_sleep(30)", {}, keep);
  conn.query("SELECT 1", {}, keep);
  ASSERT_TRUE(test::eventually([&] {
    return db.query(
               "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
               "AND state = 'active'") == "1";
  }));
  cluster.restart();
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  for (const auto& r : results) {
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.connection_lost()) << r.sqlstate() << " " << r.error();
  }
  EXPECT_FALSE(broken.empty());
  EXPECT_FALSE(conn.connected());
  EXPECT_FALSE(conn.usable());
}

}  // namespace
