// agent::ItemLoop in standalone mode, in process and through kill_agent: results and
// done-markers commit together, done items are skipped, a failing handler leaves nothing.
#include "agent/item_loop.hpp"

#include <gtest/gtest.h>

#include <string>
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
