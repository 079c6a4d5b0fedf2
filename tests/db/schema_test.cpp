// The schema installer and sql/: idempotent install, upgrade from version 1, concurrent
// installers, queue_job/queue_step, the jobqueue NOTIFY, and jobline.sql == the installer.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "schema_install.hpp"
#include "support.hpp"

namespace {

using jobline::schema::install;
using jobline::schema::latest_version;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

Conn connect(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c.get()));
  return c;
}

void exec(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  if (!ok) throw std::runtime_error(err);
}

// The next notification on `c` within `timeout`, as (channel, payload).
std::optional<std::pair<std::string, std::string>> next_notify(PGconn* c,
                                                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    PQconsumeInput(c);
    if (PGnotify* n = PQnotifies(c)) {
      std::pair<std::string, std::string> out{n->relname, n->extra};
      PQfreemem(n);
      return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{PQsocket(c), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(left.count()));
  }
}

// Everything the schema defines that a user can see, one line per object.
std::vector<std::string> schema_listing(const test::TempDatabase& db) {
  std::vector<std::string> all;
  const char* queries[] = {
      "SELECT table_name, column_name, ordinal_position, data_type, column_default, "
      "is_nullable FROM information_schema.columns WHERE table_schema = 'public' "
      "ORDER BY table_name, ordinal_position",
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexdef",
      "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
      "WHERE connamespace = 'public'::regnamespace ORDER BY conname",
      "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
      "WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname",
      "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
      "ORDER BY tgname",
      "SELECT version, name FROM jobline_schema ORDER BY version",
  };
  for (const char* q : queries) {
    for (auto& row : db.rows(q)) all.push_back(std::move(row));
  }
  return all;
}

TEST(Schema, InstallTwiceChangesNothingTheSecondTime) {
  test::TempDatabase db;
  const auto first = install(db.conninfo());
  EXPECT_EQ(first.from_version, 0);
  EXPECT_EQ(first.to_version, latest_version());
  EXPECT_TRUE(first.changed());
  EXPECT_EQ(first.applied.size(), static_cast<std::size_t>(latest_version()));
  const auto before = schema_listing(db);

  const auto second = install(db.conninfo());
  EXPECT_FALSE(second.changed());
  EXPECT_EQ(second.from_version, latest_version());
  EXPECT_EQ(second.to_version, latest_version());
  EXPECT_EQ(schema_listing(db), before);
}

TEST(Schema, UpgradesVersion1InPlace) {
  test::TempDatabase db;
  // What an installer of version 1 left: the version table and migration 1 only.
  const std::string sql = test::source_dir() + "/sql/";
  db.query("BEGIN;" + slurp(sql + "bootstrap.sql") + slurp(sql + "migrations/001_core.sql") +
           "COMMIT;");
  ASSERT_EQ(db.query("SELECT max(version) FROM jobline_schema"), "1");
  db.query("INSERT INTO job (job_name) VALUES ('kept')");

  const auto r = install(db.conninfo());
  EXPECT_EQ(r.from_version, 1);
  EXPECT_EQ(r.to_version, latest_version());
  ASSERT_FALSE(r.applied.empty());
  EXPECT_EQ(r.applied.front(), "002_queueing");
  EXPECT_EQ(db.query("SELECT max(version) FROM jobline_schema"), std::to_string(latest_version()));
  EXPECT_EQ(db.query("SELECT job_name FROM job"), "kept");  // data survives the upgrade
  EXPECT_NE(db.query("SELECT queue_job('after upgrade')"), "");
}

TEST(Schema, RefusesADatabaseNewerThanItself) {
  test::TempDatabase db;
  install(db.conninfo());
  db.query("INSERT INTO jobline_schema (version, name) VALUES (" +
           std::to_string(latest_version() + 1) + ", 'from_the_future')");
  try {
    install(db.conninfo());
    FAIL() << "install() accepted a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST(Schema, ErrorsCarryTheSqlstate) {
  test::TempDatabase db;
  db.query("CREATE TABLE job (x int)");  // a clash: migration 1 fails
  try {
    install(db.conninfo());
    FAIL() << "install() over a clashing table succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("SQLSTATE 42P07"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.query("SELECT count(*) FROM pg_tables WHERE tablename = 'jobqueue'"), "0");
}

TEST(Schema, ConcurrentInstallersApplyOnce) {
  test::TempDatabase db;
  std::atomic<int> changed{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      try {
        if (install(db.conninfo()).changed()) ++changed;
      } catch (const std::exception&) {
        ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(changed.load(), 1);
  EXPECT_EQ(db.query("SELECT count(*) FROM jobline_schema"), std::to_string(latest_version()));
}

TEST(Schema, QueueJobAndStep) {
  test::TempDatabase db;
  install(db.conninfo());
  const std::string jq = db.query("SELECT queue_step(queue_job('demo'), 'example', 'hello world')");
  ASSERT_FALSE(jq.empty());
  EXPECT_EQ(db.rows("SELECT j.job_name, q.jq_type, q.jq_args, q.jq_starttime IS NULL, "
                    "q.jq_end_bits, q.jq_runonpfile, j.job_priority "
                    "FROM jobqueue q JOIN job j ON j.job_pk = q.jq_job_fk"),
            (std::vector<std::string>{"demo|example|hello world|t|0|<null>|0"}));

  const std::string job = db.query("SELECT queue_job('two', NULL, 5, 7, 8)");
  const std::string a = db.query("SELECT queue_step(" + job + ", 'a')");
  const std::string b = db.query("SELECT queue_step(" + job + ", 'b', 'x', ARRAY[" + a + ", " + jq +
                                 ", " + a + "], 'pfile', 'h1', '-v')");
  EXPECT_EQ(
      db.rows("SELECT jdep_jq_depends_fk FROM jobdepends WHERE jdep_jq_fk = " + b + " ORDER BY 1"),
      (std::vector<std::string>{jq, a}));
  EXPECT_EQ(db.rows("SELECT jq_runonpfile, jq_host, jq_cmd_args FROM jobqueue WHERE jq_pk = " + b),
            (std::vector<std::string>{"pfile|h1|-v"}));
  EXPECT_EQ(db.query("SELECT job_priority || '/' || job_user_fk || '/' || job_group_fk FROM job "
                     "WHERE job_pk = " +
                     job),
            "5/7/8");
}

TEST(Schema, QueueStepWithAMissingDependencyInsertsNothing) {
  test::TempDatabase db;
  install(db.conninfo());
  const std::string job = db.query("SELECT queue_job('j')");
  const std::string a = db.query("SELECT queue_step(" + job + ", 'a')");
  try {
    db.query("SELECT queue_step(" + job + ", 'b', NULL, ARRAY[" + a + ", 424242])");
    FAIL() << "a missing dependency was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dependency jq_pk 424242 does not exist"),
              std::string::npos)
        << e.what();
  }
  try {
    db.query("SELECT queue_step(999999, 'b')");
    FAIL() << "a missing job was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("job 999999 does not exist"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(db.query("SELECT count(*) FROM jobqueue"), "1");
  EXPECT_EQ(db.query("SELECT count(*) FROM jobdepends"), "0");
}

TEST(Schema, NotifiesTheSchedulerOfNewReopenedAndEndedSteps) {
  test::TempDatabase db;
  install(db.conninfo());
  Conn listener = connect(db.conninfo());
  exec(listener.get(), "LISTEN jobline_jobqueue");

  const std::string jq = db.query("SELECT queue_step(queue_job('n'), 'example', 'x')");
  auto n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value()) << "no NOTIFY after queue_step";
  EXPECT_EQ(n->first, "jobline_jobqueue");
  EXPECT_EQ(n->second, jq);

  // A plain INSERT notifies too.
  const std::string plain = db.query(
      "INSERT INTO jobqueue (jq_job_fk, jq_type) SELECT job_pk, 'example' FROM job "
      "RETURNING jq_pk");
  n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->second, plain);

  // Progress does not notify; ending a step (its dependents may be ready) does.
  db.query("UPDATE jobqueue SET jq_starttime = now(), jq_itemsprocessed = 5 WHERE jq_pk = " + jq);
  db.query("UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = 1 WHERE jq_pk = " + plain);
  n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->second, plain);

  // Re-opening (reset) notifies.
  db.query("UPDATE jobqueue SET jq_starttime = NULL WHERE jq_pk = " + jq);
  n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->second, jq);
  db.query("UPDATE jobqueue SET jq_endtext = 'Restarted' WHERE jq_pk = " + plain);
  n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->second, plain);
}

// jobline_progress (migration 8, one trigger with the others since migration 11): each change
// the live pages show notifies with the step's jq_pk, an UPDATE that changes none of them does
// not, and neither does a new step.
TEST(Schema, NotifiesProgressOfItemsStartAndEndText) {
  test::TempDatabase db;
  install(db.conninfo());
  Conn listener = connect(db.conninfo());
  exec(listener.get(), "LISTEN jobline_progress");

  const std::string a = db.query("SELECT queue_step(queue_job('p'), 'example', 'x')");
  const std::string b = db.query("SELECT queue_step(queue_job('p'), 'example', 'y')");
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"jq_starttime = now()", a},
      {"jq_itemsprocessed = 7", b},
      {"jq_itemsknown = 9", a},
      {"jq_endtext = 'Paused'", b},
  };
  for (const auto& [set, jq] : changes) {
    // Not shown on the pages: no notification, so the next one received is the change's own.
    db.query("UPDATE jobqueue SET jq_schedinfo = 'h.1', jq_log = '/l' WHERE jq_pk = " + jq);
    db.query("UPDATE jobqueue SET " + set + " WHERE jq_pk = " + jq);
    auto n = next_notify(listener.get(), std::chrono::seconds(10));
    ASSERT_TRUE(n.has_value()) << "no progress NOTIFY after SET " << set;
    EXPECT_EQ(n->first, "jobline_progress");
    EXPECT_EQ(n->second, jq) << "after SET " << set;
  }
  // The steps alternate, so a notification of the UPDATE before would have shown up as the
  // other step's. The same for the last one, and for values set again unchanged:
  db.query("UPDATE jobqueue SET jq_schedinfo = 'h.2', jq_itemsprocessed = 7 WHERE jq_pk = " + b);
  db.query("UPDATE jobqueue SET jq_itemsprocessed = 1 WHERE jq_pk = " + a);
  auto n = next_notify(listener.get(), std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->second, a);
}

TEST(Schema, PsqlScriptGivesTheSameSchemaAsTheInstaller) {
  test::TempDatabase by_installer, by_psql;
  install(by_installer.conninfo());
  const std::string script = test::build_dir() + "/sql/jobline.sql";
  for (int i = 0; i < 2; ++i) {  // the second run must change nothing and not fail
    const auto r = test::run({"psql", "-X", "-q", "-d", by_psql.conninfo(), "-f", script});
    ASSERT_EQ(r.exit_code(), 0) << r.output;
  }
  EXPECT_EQ(schema_listing(by_psql), schema_listing(by_installer));
  EXPECT_FALSE(install(by_psql.conninfo()).changed());
}

}  // namespace
