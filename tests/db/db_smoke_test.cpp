// Smoke test of the db harness: the `pg` fixture's cluster is up, TempDatabase gives each
// test its own database, and values (NULL, unicode, quotes) survive a round trip.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support.hpp"

namespace {

TEST(DbSmoke, ClusterAnswers) {
  test::TempDatabase db;
  EXPECT_EQ(db.query("SELECT current_database()"), db.name());
  EXPECT_EQ(db.query("SHOW server_encoding"), "UTF8");
  EXPECT_GE(std::stoi(db.query("SHOW max_connections")), 200);
}

TEST(DbSmoke, RowsRoundTripIncludingNullAndUnicode) {
  test::TempDatabase db;
  db.query(
      "CREATE TABLE item (id int PRIMARY KEY, name text, note text);"
      "INSERT INTO item VALUES (1, 'plain', NULL),"
      "  (2, 'Grüße, 日本語 ✓', 'it''s quoted'),"
      "  (3, '', 'tab\there');");
  EXPECT_EQ(db.query("SELECT count(*) FROM item"), "3");
  std::vector<std::string> expected = {"1|plain|<null>", "2|Grüße, 日本語 ✓|it's quoted",
                                       "3||tab\there"};
  EXPECT_EQ(db.rows("SELECT id, name, note FROM item ORDER BY id"), expected);
  EXPECT_EQ(db.query("SELECT name FROM item WHERE id = 2"), "Grüße, 日本語 ✓");
  // Characters, not bytes: the server saw UTF-8 text, not mangled bytes.
  EXPECT_EQ(db.query("SELECT length(name) FROM item WHERE id = 2"), "12");
  EXPECT_EQ(db.query("SELECT octet_length(name) FROM item WHERE id = 2"),
            std::to_string(std::string("Grüße, 日本語 ✓").size()));
  EXPECT_EQ(db.query("SELECT note FROM item WHERE id = 1"), "");  // NULL reads as ""
  EXPECT_TRUE(db.rows("SELECT * FROM item WHERE id = 42").empty());
}

TEST(DbSmoke, TwoDatabasesAreIsolated) {
  test::TempDatabase a;
  test::TempDatabase b;
  ASSERT_NE(a.name(), b.name());
  a.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('from a');");
  b.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('from b'), ('again b');");
  EXPECT_EQ(a.rows("SELECT v FROM t"), std::vector<std::string>{"from a"});
  EXPECT_EQ(b.query("SELECT count(*) FROM t"), "2");
  a.query("CREATE TABLE only_in_a (x int)");
  EXPECT_THROW(b.query("SELECT * FROM only_in_a"), std::runtime_error);
}

TEST(DbSmoke, DestructorDropsTheDatabase) {
  std::string name;
  {
    test::TempDatabase db;
    name = db.name();
    db.query("CREATE TABLE t (x int)");
  }
  test::TempDatabase other;
  EXPECT_EQ(other.query("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'"), "0");
}

TEST(DbSmoke, BadSqlThrowsWithTheServerMessage) {
  test::TempDatabase db;
  try {
    db.query("SELECT * FROM no_such_table");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
  }
}

}  // namespace
