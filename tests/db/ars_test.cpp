// ars helpers: <agent>_ars created on demand (INHERITS ars_master), done/start/finish.
#include "agent/ars.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "agent/agent_pk.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

TEST(Ars, TableNamesAreValidated) {
  EXPECT_EQ(agent::ars_table("nomos"), "nomos_ars");
  EXPECT_EQ(agent::ars_table("_x9"), "_x9_ars");
  for (const char* bad : {"", "Nomos", "9lives", "a-b", "a b", "x\"; DROP TABLE agent; --"}) {
    EXPECT_THROW(agent::ars_table(bad), agent::Error) << bad;
  }
  EXPECT_THROW(agent::ars_table(std::string(60, 'a')), agent::Error);
  EXPECT_NO_THROW(agent::ars_table(std::string(59, 'a')));
}

TEST(Ars, StartFinishAndDone) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  agent::Database db(tdb.conninfo());
  const int pk = agent::agent_pk(db, "nomos", "1.0", "license scanner");
  const int other = agent::agent_pk(db, "nomos", "2.0", "license scanner");
  const int upload = std::stoi(tdb.query("INSERT INTO upload DEFAULT VALUES RETURNING upload_pk"));

  EXPECT_FALSE(agent::ars_done(db, "nomos", pk, upload));  // no table yet
  const int run1 = agent::ars_start(db, "nomos", pk, upload);
  EXPECT_EQ(tdb.query("SELECT inhparent::regclass FROM pg_inherits "
                      "WHERE inhrelid = 'nomos_ars'::regclass"),
            "ars_master");
  EXPECT_FALSE(agent::ars_done(db, "nomos", pk, upload));  // started, not succeeded
  agent::ars_finish(db, run1, false, "crashed");
  EXPECT_FALSE(agent::ars_done(db, "nomos", pk, upload));

  const int run2 = agent::ars_start(db, "nomos", pk, upload);
  EXPECT_NE(run1, run2);
  agent::ars_finish(db, run2, true, "ok");
  EXPECT_TRUE(agent::ars_done(db, "nomos", pk, upload));
  EXPECT_FALSE(agent::ars_done(db, "nomos", other, upload));  // another revision
  EXPECT_EQ(tdb.rows("SELECT ars_pk, ars_success, ars_status, ars_endtime IS NOT NULL "
                     "FROM ars_master ORDER BY ars_pk"),
            (std::vector<std::string>{std::to_string(run1) + "|f|crashed|t",
                                      std::to_string(run2) + "|t|ok|t"}));
  EXPECT_THROW(agent::ars_finish(db, 987654, true, "x"), agent::Error);
  // Another agent's table shares the sequence: ars_pk stays unique across them.
  const int run3 = agent::ars_start(db, "copyright", pk, upload);
  EXPECT_GT(run3, run2);
  // Deleting the upload deletes its runs.
  tdb.query("DELETE FROM upload");
  EXPECT_EQ(tdb.query("SELECT count(*) FROM ars_master"), "0");
}

TEST(Ars, ConcurrentCreationOfTheSameTable) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        agent::Database db(tdb.conninfo());
        agent::ars_ensure_table(db, "race");
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(tdb.query("SELECT count(*) FROM pg_tables WHERE tablename = 'race_ars'"), "1");
}

}  // namespace
