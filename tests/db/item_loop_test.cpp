// agent::ItemLoop in standalone mode, in process and through kill_agent: results and
// done-markers commit together, done items are skipped, a failing handler leaves nothing.
#include "agent/item_loop.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_pk.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

struct Fixture {
  test::TempDatabase tdb;
  agent::Database db{(jobline::schema::install(tdb.conninfo()), tdb.conninfo())};
  int pk = agent::agent_pk(db, "loop_test", "1", "");
  std::vector<std::string> argv_storage{"loop_test"};
  std::vector<char*> argv{argv_storage[0].data(), nullptr};
  int argc = 1;
  agent::Session session{argc, argv.data(), {"loop_test"}};
  Fixture() { db.exec("CREATE TABLE r (item bytea NOT NULL)"); }
};

void insert(agent::Database& db, const std::string& item) {
  std::string hex;
  for (char ch : item) {
    const auto c = static_cast<unsigned char>(ch);
    static constexpr char d[] = "0123456789abcdef";
    hex += d[c >> 4];
    hex += d[c & 0xf];
  }
  db.exec("INSERT INTO r VALUES (decode($1, 'hex'))", {hex});
}

TEST(ItemLoop, HandlesEachItemOnceAndSkipsDoneItems) {
  Fixture f;
  const std::string binary("\xff\x00\x01 bytes", 9);
  f.session.set_items({"a", "b", "a", binary});
  agent::ItemLoop loop(f.session, f.db, {f.pk, "", 3, true});
  const auto stats =
      loop.run([](agent::Database& db, const std::string& item) { insert(db, item); });
  EXPECT_EQ(stats.handled, 3u);
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_EQ(stats.transactions, 2u);  // groups of up to 3
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM r"), "3");
  EXPECT_TRUE(agent::ItemLoop::done(f.db, f.pk, "", binary));
  EXPECT_FALSE(agent::ItemLoop::done(f.db, f.pk, "", "c"));
  EXPECT_FALSE(agent::ItemLoop::done(f.db, f.pk, "other scope", "a"));

  // A second run over the same items does nothing; another scope does them again.
  f.session.set_items({"a", "b"});
  EXPECT_EQ(loop.run([](agent::Database& db, const std::string& i) { insert(db, i); }).handled, 0u);
  f.session.set_items({"a"});
  agent::ItemLoop scoped(f.session, f.db, {f.pk, "upload 7", 1, true});
  EXPECT_EQ(scoped.run([](agent::Database& db, const std::string& i) { insert(db, i); }).handled,
            1u);
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM r"), "4");
}

// A group of new items is marked with a plain INSERT; one that meets an item done before is
// rolled back and marked again skipping it, and the groups after it go on. Every item is
// handled once, in one run whose groups are: new + done, then new, then new.
TEST(ItemLoop, AGroupMeetingAnItemDoneBeforeIsMarkedAgainWithoutIt) {
  Fixture f;
  const auto handler = [](agent::Database& db, const std::string& item) { insert(db, item); };
  f.session.set_items({"n1", "n2"});
  agent::ItemLoop loop(f.session, f.db, {f.pk, "", 2, true});
  EXPECT_EQ(loop.run(handler).handled, 2u);

  f.session.set_items({"n3", "n1", "n4", "n5", "n6", "n7"});
  const auto stats = loop.run(handler);
  EXPECT_EQ(stats.handled, 5u);
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_EQ(stats.transactions, 3u);
  EXPECT_EQ(f.tdb.query("SELECT string_agg(convert_from(item, 'UTF8'), ',' ORDER BY item) FROM r"),
            "n1,n2,n3,n4,n5,n6,n7");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "7");

  // A whole run of items done before: nothing handled, nothing thrown.
  f.session.set_items({"n1", "n2", "n3", "n4", "n5", "n6", "n7"});
  EXPECT_EQ(loop.run(handler).handled, 0u);
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM r"), "7");
}

// Another agent of the same agent_pk marks an item of this group and has not committed yet:
// the marking waits for it, then skips that item if it committed, or handles it if it rolled
// back.
TEST(ItemLoop, AnItemMarkedByAConcurrentTransactionCountsOnceThatEnds) {
  for (const bool other_commits : {true, false}) {
    SCOPED_TRACE(other_commits ? "the other commits" : "the other rolls back");
    Fixture f;
    agent::Database other(f.tdb.conninfo());
    other.begin();
    other.exec(
        "INSERT INTO agent_item_done (agent_fk, scope, item_hash, item) "
        "VALUES ($1, '', sha256('c2'::bytea), 'c2'::bytea)",
        {std::to_string(f.pk)});
    f.session.set_items({"c1", "c2", "c3"});
    agent::ItemLoop loop(f.session, f.db, {f.pk, "", 3, true});
    agent::ItemLoop::Stats stats;
    std::exception_ptr failure;
    std::thread run([&] {
      try {
        stats = loop.run([](agent::Database& db, const std::string& item) { insert(db, item); });
      } catch (...) {
        failure = std::current_exception();
      }
    });
    // The loop's marking waits for the other transaction's row lock.
    const bool waits = test::eventually([&] {
      return f.tdb.query(
                 "SELECT count(*) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND wait_event_type = 'Lock'") != "0";
    });
    if (other_commits) {
      other.commit();
    } else {
      other.rollback();
    }
    run.join();
    ASSERT_TRUE(waits);
    ASSERT_FALSE(failure);
    EXPECT_EQ(stats.handled, other_commits ? 2u : 3u);
    EXPECT_EQ(stats.skipped, other_commits ? 1u : 0u);
    EXPECT_EQ(
        f.tdb.query("SELECT string_agg(convert_from(item, 'UTF8'), ',' ORDER BY item) FROM r"),
        other_commits ? "c1,c3" : "c1,c2,c3");
    EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "3");
  }
}

TEST(ItemLoop, AFailingHandlerRollsBackItsWholeGroup) {
  Fixture f;
  f.session.set_items({"x", "bad", "y"});
  agent::ItemLoop loop(f.session, f.db, {f.pk, "", 3, true});
  EXPECT_THROW(loop.run([](agent::Database& db, const std::string& item) {
    insert(db, item);
    if (item == "bad") throw agent::Error("cannot handle bad");
  }),
               agent::Error);
  EXPECT_FALSE(f.db.in_transaction());
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM r"), "0");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "0");
}

// A group that PostgreSQL aborted for a deadlock (agents of one step inserting the same new rows
// in other orders; CI saw it with four mimetype agents) is rolled back and run again: every
// result once. Other errors, or a conflict five times over, still end the run.
TEST(ItemLoop, AGroupAbortedByADeadlockRunsAgain) {
  Fixture f;
  f.session.set_items({"x", "y", "z"});
  agent::ItemLoop loop(f.session, f.db, {f.pk, "", 3, true});
  int aborts = 1;
  const auto stats = loop.run([&](agent::Database& db, const std::string& item) {
    insert(db, item);
    if (item == "y" && aborts-- > 0) throw agent::Error("deadlock detected", "40P01");
  });
  EXPECT_EQ(stats.handled, 3u);
  EXPECT_EQ(stats.transactions, 1u);
  EXPECT_EQ(f.tdb.query("SELECT string_agg(convert_from(item, 'UTF8'), ',' ORDER BY item) FROM r"),
            "x,y,z");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "3");

  int calls = 0;
  f.session.set_items({"w"});
  EXPECT_THROW(loop.run([&](agent::Database&, const std::string&) {
    ++calls;
    throw agent::Error("could not serialize access", "40001");
  }),
               agent::Error);
  EXPECT_EQ(calls, 5);
  EXPECT_FALSE(f.db.in_transaction());
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM r"), "3");
}

TEST(ItemLoop, StandaloneRunWritesWhatASchedulerRunWrites) {
  test::TempDatabase by_hand, by_scheduler;
  jobline::schema::install(by_hand.conninfo());
  jobline::schema::install(by_scheduler.conninfo());
  const std::string agent = test::build_dir() + "/tests/agents/kill_agent/kill_agent";

  const auto r = test::run({agent, "--db", by_hand.conninfo(), "item1", "item 2", "item1"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(r.output, "");  // no protocol noise by hand

  test::Child child({agent, "--scheduler_start", "--db=" + by_scheduler.conninfo()});
  ASSERT_EQ(child.read_line(), std::optional<std::string>("OK"));
  for (const char* item : {"item1", "item 2"}) {
    child.write(std::string(item) + "\n");
    ASSERT_TRUE(child.wait_for_line("OK"));
  }
  child.close_stdin();
  const auto status = child.wait();
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);

  const std::string q = "SELECT item, part, value FROM kill_result ORDER BY item, part";
  EXPECT_EQ(by_hand.rows(q).size(), 6u);
  EXPECT_EQ(by_hand.rows(q), by_scheduler.rows(q));
}

}  // namespace
