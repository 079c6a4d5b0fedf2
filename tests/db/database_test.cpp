// agent::Database: conninfo precedence (--db, Db.conf, environment), Db.conf parsing,
// parameters and NULLs, SQLSTATE in errors, Transaction rollback.
#include "agent/db.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "schema_install.hpp"
#include "support.hpp"

namespace {

// The keywords and values of a conninfo string, parsed by libpq.
std::vector<std::pair<std::string, std::string>> split_conninfo(const std::string& conninfo) {
  std::vector<std::pair<std::string, std::string>> out;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr);
  if (!opts) throw std::runtime_error("bad conninfo " + conninfo);
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val) out.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(opts);
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(DbConf, ParsesFossologyFormat) {
  EXPECT_EQ(agent::parse_db_conf("# FOSSology Db.conf\n"
                                 "dbname=fossology;\n"
                                 "\n"
                                 "  host = /tmp/sock ;\n"
                                 "\t# another comment\n"
                                 "user=fossy;\r\n"
                                 "password=it's a\\secret;\n"),
            "dbname='fossology' host='/tmp/sock' user='fossy' password='it\\'s a\\\\secret'");
  EXPECT_EQ(agent::parse_db_conf(""), "");
  EXPECT_EQ(agent::parse_db_conf("port=5432"), "port='5432'");  // ';' is optional
}

TEST(DbConf, RejectsALineWithoutKeyValueNamingIt) {
  try {
    agent::parse_db_conf("dbname=x;\n# ok\njunk here;\n", "/etc/Db.conf");
    FAIL() << "accepted a malformed Db.conf";
  } catch (const agent::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/etc/Db.conf:3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(agent::parse_db_conf("=value;"), agent::Error);
}

TEST(Conninfo, DbOptionThenDbConfThenEnvironment) {
  test::TempDir dir;
  write_file(dir.path() + "/Db.conf", "dbname=from_db_conf;\n");
  agent::SchedulerArgs args;
  EXPECT_EQ(agent::resolve_conninfo(args), "");  // the PG* environment
  args.config = dir.path();
  EXPECT_EQ(agent::resolve_conninfo(args), "dbname='from_db_conf'");
  args.db = "dbname=from_option";
  EXPECT_EQ(agent::resolve_conninfo(args), "dbname=from_option");
  args.db.reset();
  args.config = dir.path() + "/none";  // no Db.conf there: the environment
  EXPECT_EQ(agent::resolve_conninfo(args), "");
}

TEST(Conninfo, EachSourceReachesTheDatabase) {
  test::TempDatabase db;
  test::TempDir dir;
  std::string conf;
  for (const auto& [k, v] : split_conninfo(db.conninfo())) conf += k + "=" + v + ";\n";
  write_file(dir.path() + "/Db.conf", conf);

  agent::SchedulerArgs args;
  args.config = dir.path();
  EXPECT_EQ(agent::Database::connect(args).exec("SELECT current_database()").get(0, 0), db.name());

  test::TempDatabase other;
  args.db = other.conninfo();  // --db wins over Db.conf
  EXPECT_EQ(agent::Database::connect(args).exec("SELECT current_database()").get(0, 0),
            other.name());

  // Only the environment.
  const std::map<std::string, std::string> names{
      {"host", "PGHOST"}, {"port", "PGPORT"}, {"user", "PGUSER"}, {"dbname", "PGDATABASE"}};
  for (const auto& [k, v] : split_conninfo(db.conninfo())) {
    if (names.count(k)) ::setenv(names.at(k).c_str(), v.c_str(), 1);
  }
  EXPECT_EQ(agent::Database::connect({}).exec("SELECT current_database()").get(0, 0), db.name());
  for (const auto& [k, v] : names) ::unsetenv(v.c_str());
}

TEST(Database, ParametersNullsAndResults) {
  test::TempDatabase tdb;
  agent::Database db(tdb.conninfo());
  auto r = db.exec("SELECT $1::text IS NULL, $2::text, $3::int + 1 AS n, NULL::text",
                   {std::nullopt, "", "41"});
  ASSERT_EQ(r.rows(), 1);
  ASSERT_EQ(r.cols(), 4);
  EXPECT_EQ(r.get(0, 0), "t");
  EXPECT_FALSE(r.is_null(0, 1));
  EXPECT_EQ(r.value(0, 1), std::optional<std::string>(""));
  EXPECT_EQ(r.get(0, r.column("n")), "42");
  EXPECT_TRUE(r.is_null(0, 3));
  EXPECT_EQ(r.value(0, 3), std::nullopt);
  EXPECT_EQ(r.column("absent"), -1);
  EXPECT_THROW(r.get(1, 0), agent::Error);
  // Text that looks like SQL stays data.
  EXPECT_EQ(db.exec("SELECT $1::text", {"'); DROP TABLE x; --"}).get(0, 0), "'); DROP TABLE x; --");
  db.exec("CREATE TABLE t (x int)");
  EXPECT_EQ(db.exec("INSERT INTO t SELECT generate_series(1, 3)").affected(), 3);
}

// append_array_element: any text, one element each, back from the server as it went in.
TEST(Database, ArrayElementsArriveAsTheyWent) {
  test::TempDatabase tdb;
  agent::Database db(tdb.conninfo());
  const std::vector<std::string> values{"plain",       "",           "NULL",          "a,b",
                                        "{x}",         "say \"hi\"", "back\\slash\\", " spaced ",
                                        "line\nbreak", "ü"};
  std::string literal = "{";
  for (const auto& v : values) agent::append_array_element(literal, v);
  agent::append_array_element(literal, std::nullopt);
  literal += "}";
  auto r = db.exec(
      "SELECT v, v IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) "
      "ORDER BY i",
      {literal});
  ASSERT_EQ(r.rows(), static_cast<int>(values.size()) + 1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(r.get(static_cast<int>(i), 0), values[i]);
    EXPECT_EQ(r.get(static_cast<int>(i), 1), "f");
  }
  EXPECT_EQ(r.get(r.rows() - 1, 1), "t");  // std::nullopt: SQL NULL, not the text "NULL"
  EXPECT_EQ(db.exec("SELECT cardinality($1::text[])", {"{}"}).get(0, 0), "0");
}

TEST(Database, ErrorsCarryTheSqlstate) {
  test::TempDatabase tdb;
  agent::Database db(tdb.conninfo());
  const auto sqlstate = [&](const char* sql) {
    try {
      db.exec(sql);
    } catch (const agent::Error& e) {
      EXPECT_FALSE(std::string(e.what()).empty());
      return e.sqlstate();
    }
    return std::string("no error");
  };
  EXPECT_EQ(sqlstate("SELECT 1/0"), "22012");
  EXPECT_EQ(sqlstate("SELEC 1"), "42601");
  EXPECT_EQ(sqlstate("SELECT * FROM no_such_table"), "42P01");
  db.exec("CREATE TABLE u (x int PRIMARY KEY)");
  db.exec("INSERT INTO u VALUES (1)");
  EXPECT_EQ(sqlstate("INSERT INTO u VALUES (1)"), "23505");
  EXPECT_THROW(agent::Database("dbname=jobline_no_such_db " + tdb.conninfo() + " dbname=nope"),
               agent::Error);
}

TEST(Database, TransactionRollsBackUnlessCommitted) {
  test::TempDatabase tdb;
  agent::Database db(tdb.conninfo());
  db.exec("CREATE TABLE t (x int)");
  {
    agent::Transaction tx(db);
    EXPECT_TRUE(db.in_transaction());
    db.exec("INSERT INTO t VALUES (1)");
  }
  EXPECT_FALSE(db.in_transaction());
  {
    agent::Transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
    tx.commit();
  }
  {
    agent::Transaction tx(db);  // a failed transaction is rolled back too
    EXPECT_THROW(db.exec("INSERT INTO t VALUES ('x')"), agent::Error);
  }
  EXPECT_EQ(db.exec("SELECT string_agg(x::text, ',') FROM t").get(0, 0), "2");
  EXPECT_EQ(db.quote_identifier("a\"b"), "\"a\"\"b\"");
}

}  // namespace
