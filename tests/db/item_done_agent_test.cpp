// agent_item_done's reference to agent (migration 12): checked by statement-level triggers in
// place of a foreign key, with the foreign key's behaviour: a marker must name an agent
// (SQLSTATE 23503), deleting an agent deletes its markers, also when they commit while the
// DELETE waits, a marker written after its agent's deletion fails, a referenced key cannot
// change, TRUNCATE agent empties the markers.
#include <gtest/gtest.h>

#include <exception>
#include <optional>
#include <string>
#include <thread>

#include "agent/db.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

struct Fixture {
  test::TempDatabase tdb;
  agent::Database db{(jobline::schema::install(tdb.conninfo()), tdb.conninfo())};
  std::string a = agent_row("a");
  std::string b = agent_row("b");

  std::string agent_row(const std::string& name) {
    return db
        .exec("INSERT INTO agent (agent_name, agent_rev) VALUES ($1, '1') RETURNING agent_pk",
              {name})
        .get(0, 0);
  }
  // One done-marker of `agent` for `item`.
  void mark(agent::Database& conn, const std::string& agent, const std::string& item) {
    conn.exec(
        "INSERT INTO agent_item_done (agent_fk, item_hash, item) "
        "VALUES ($1, sha256(convert_to($2, 'UTF8')), convert_to($2, 'UTF8'))",
        {agent, item});
  }
  std::string markers(const std::string& agent) {
    return tdb.query("SELECT count(*) FROM agent_item_done WHERE agent_fk = " + agent);
  }
  // True once a session of this database waits for a lock (bounded by eventually()'s 30 s).
  bool someone_waits_for_a_lock() {
    return test::eventually([&] {
      return tdb.query(
                 "SELECT count(*) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND wait_event_type = 'Lock'") != "0";
    });
  }
};

// The SQLSTATE a call throws with, or nullopt when it does not throw.
template <typename F>
std::optional<std::string> sqlstate_of(F&& f) {
  try {
    f();
  } catch (const agent::Error& e) {
    return e.sqlstate();
  }
  return std::nullopt;
}

TEST(ItemDoneAgent, AMarkerMustNameAnAgent) {
  Fixture f;
  EXPECT_EQ(sqlstate_of([&] { f.mark(f.db, "999999", "x"); }), "23503");
  // A statement naming an agent that exists and one that does not inserts nothing.
  EXPECT_EQ(sqlstate_of([&] {
              f.db.exec(
                  "INSERT INTO agent_item_done (agent_fk, item_hash, item) "
                  "SELECT fk, sha256(fk::text::bytea), fk::text::bytea "
                  "FROM unnest(ARRAY[$1::integer, 999999]) AS t (fk)",
                  {f.a});
            }),
            "23503");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "0");

  f.mark(f.db, f.a, "x");
  EXPECT_EQ(sqlstate_of([&] { f.db.exec("UPDATE agent_item_done SET agent_fk = 999999"); }),
            "23503");
  EXPECT_EQ(sqlstate_of([&] { f.db.exec("UPDATE agent_item_done SET agent_fk = $1", {f.b}); }),
            std::nullopt);
  EXPECT_EQ(f.markers(f.b), "1");
}

TEST(ItemDoneAgent, DeletingAnAgentDeletesItsMarkersOnly) {
  Fixture f;
  f.mark(f.db, f.a, "x");
  f.mark(f.db, f.a, "y");
  f.mark(f.db, f.b, "x");
  f.db.exec("DELETE FROM agent WHERE agent_pk = $1", {f.a});
  EXPECT_EQ(f.markers(f.a), "0");
  EXPECT_EQ(f.markers(f.b), "1");
}

TEST(ItemDoneAgent, ADeleteWaitsForMarkersBeingWrittenAndDeletesThem) {
  Fixture f;
  agent::Database writer(f.tdb.conninfo());
  writer.begin();
  f.mark(writer, f.a, "x");
  std::exception_ptr failure;
  std::thread deleter([&] {
    try {
      agent::Database d(f.tdb.conninfo());
      d.exec("DELETE FROM agent WHERE agent_pk = $1", {f.a});
    } catch (...) {
      failure = std::current_exception();
    }
  });
  const bool waited = f.someone_waits_for_a_lock();  // the writer holds the agent's row
  writer.commit();
  deleter.join();
  ASSERT_TRUE(waited);
  ASSERT_FALSE(failure);
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent WHERE agent_pk = " + f.a), "0");
  EXPECT_EQ(f.markers(f.a), "0");
}

TEST(ItemDoneAgent, AMarkerWrittenWhileItsAgentIsDeletedFailsOnceTheDeleteCommits) {
  Fixture f;
  agent::Database deleter(f.tdb.conninfo());
  deleter.begin();
  deleter.exec("DELETE FROM agent WHERE agent_pk = $1", {f.a});
  std::optional<std::string> state;
  std::thread writer([&] {
    agent::Database w(f.tdb.conninfo());
    state = sqlstate_of([&] { f.mark(w, f.a, "x"); });
  });
  const bool waited = f.someone_waits_for_a_lock();
  deleter.commit();
  writer.join();
  ASSERT_TRUE(waited);
  EXPECT_EQ(state, "23503");
  EXPECT_EQ(f.markers(f.a), "0");
}

TEST(ItemDoneAgent, AReferencedAgentKeyCannotChange) {
  Fixture f;
  f.mark(f.db, f.a, "x");
  EXPECT_EQ(sqlstate_of([&] {
              f.db.exec("UPDATE agent SET agent_pk = 999999 WHERE agent_pk = $1", {f.a});
            }),
            "23503");
  EXPECT_EQ(f.markers(f.a), "1");
  // An agent with no markers may change its key; other columns of a referenced one may change.
  EXPECT_EQ(sqlstate_of([&] {
              f.db.exec("UPDATE agent SET agent_pk = 999999 WHERE agent_pk = $1", {f.b});
            }),
            std::nullopt);
  EXPECT_EQ(sqlstate_of([&] {
              f.db.exec("UPDATE agent SET agent_desc = 'changed' WHERE agent_pk = $1", {f.a});
            }),
            std::nullopt);
}

TEST(ItemDoneAgent, TruncatingAgentsEmptiesTheMarkers) {
  Fixture f;
  f.mark(f.db, f.a, "x");
  f.db.exec("TRUNCATE agent CASCADE");
  EXPECT_EQ(f.tdb.query("SELECT count(*) FROM agent_item_done"), "0");
}

}  // namespace
