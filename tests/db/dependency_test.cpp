// Dependencies resolved in the database (sql/migrations/004_dependencies.sql): a failed
// prerequisite fails its dependents at once whoever fails it and whenever they are queued
// (before, during or after the failure, from concurrent connections); a re-opened step behind a
// failed prerequisite stays failed; a cycle made through jobdepends fails its steps, naming the
// cycle, while other work goes on.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "agent/db.hpp"
#include "queue_plan.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::contains;
using test::SchedulerHarness;
using test::TempDatabase;

struct Schema {
  TempDatabase db;
  Schema() { jobline::schema::install(db.conninfo()); }
};

long long value(const TempDatabase& db, const std::string& sql) {
  return std::stoll(db.query(sql));
}

// Runs in_transaction with a body that inserts its call number into t and throws an error
// with `sqlstate` on its first `failures` calls; returns what in_transaction returned.
int queue_in_transaction(agent::Database& db, int& calls, int failures,
                         const std::string& sqlstate) {
  return jobctl::in_transaction(db, [&] {
    ++calls;
    db.exec("INSERT INTO t VALUES ($1::int)", {std::to_string(calls)});
    if (calls <= failures) throw agent::Error("made up", sqlstate);
    return calls;
  });
}

// Queues dependents of `prereq` (each also waiting for an earlier dependent, so chains form)
// from its own connections until `stop`, while the caller fails `prereq`. Returns how many.
int race_dependents(const TempDatabase& db, long long job, long long prereq,
                    const std::function<void()>& fail) {
  std::atomic<bool> stop{false};
  std::atomic<int> queued{0};
  std::thread queuer([&] {
    std::vector<long long> mine{prereq};
    std::mt19937 rng(static_cast<unsigned>(prereq));
    while (!stop) {
      long long other = mine[rng() % mine.size()];
      mine.push_back(value(
          db, fmt::format("SELECT queue_step({}, 'x', 'd', ARRAY[{}, {}])", job, prereq, other)));
      ++queued;
    }
  });
  // Before: some are queued; during: the failure commits while the queuer runs; after: more.
  test::eventually([&] { return queued >= 3; }, 10s);
  fail();
  int at_failure = queued;
  test::eventually([&] { return queued >= at_failure + 3; }, 10s);
  stop = true;
  queuer.join();
  return queued;
}

TEST(Dependencies, DependentsQueuedBeforeDuringAndAfterAFailureAllFail) {
  Schema s;
  std::mt19937 rng(42);
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE(round);
    long long job = value(s.db, "SELECT queue_job('race')");
    long long p = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'p')", job));
    int n = race_dependents(s.db, job, p, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
      s.db.query(
          fmt::format("UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = 2, "
                      "jq_endtext = 'broke' WHERE jq_pk = {}",
                      p));
    });
    ASSERT_GE(n, 6);
    // No waiting: every committed dependent is already failed.
    EXPECT_EQ(
        s.db.query(fmt::format(
            "SELECT count(*) FROM jobqueue WHERE jq_job_fk = {} AND jq_endtime IS NULL", job)),
        "0");
    EXPECT_EQ(s.db.query(fmt::format("SELECT count(*) FROM jobqueue WHERE jq_job_fk = {} AND "
                                     "jq_endtext = 'dependency failed' AND jq_end_bits = 2",
                                     job)),
              std::to_string(n));
  }
}

// A failure takes its step's lock and then its dependents'; a new step waiting for a failure of
// one prerequisite holds none of the others (007_dependency_locks.sql), or a failure cascading
// into one of them would wait for it while it waits for the first: a deadlock, which CI met.
TEST(Dependencies, AStepWaitingForAFailureHoldsNoPrerequisite) {
  Schema s;
  auto fail = [&](agent::Database& db, long long step) {
    db.exec(
        fmt::format("UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = 2, "
                    "jq_endtext = 'broke' WHERE jq_pk = {}",
                    step));
  };
  // The failure of `first` is in progress when the step is queued; `second` fails meanwhile.
  // Both orders: whichever prerequisite a lock would be taken on first.
  for (bool p_first : {true, false}) {
    SCOPED_TRACE(p_first);
    long long job = value(s.db, "SELECT queue_job('order')");
    long long p = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'p')", job));
    long long x = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'x')", job));
    long long first = p_first ? p : x, second = p_first ? x : p;
    agent::Database failer1(s.db.conninfo()), failer2(s.db.conninfo()), queuer(s.db.conninfo());
    agent::Transaction failing1(failer1);
    fail(failer1, first);
    std::atomic<bool> queued{false};
    std::string error;
    long long d = 0;
    std::thread t([&] {
      try {
        d = std::stoll(
            queuer.exec(fmt::format("SELECT queue_step({}, 'x', 'd', ARRAY[{}, {}])", job, x, p))
                .get(0, 0));
      } catch (const std::exception& e) {
        error = e.what();
      }
      queued = true;
    });
    ASSERT_TRUE(test::eventually([&] {
      return s.db.query(
                 "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                 "'SELECT queue_step%' AND wait_event_type = 'Lock'") == "1";
    }));
    EXPECT_FALSE(queued) << "the new step waits for the failure to commit";
    // `second` fails without waiting for the new step (a bound, not a timing goal: when the
    // new step held `second`, this UPDATE waited for it for ever).
    {
      agent::Transaction failing2(failer2);
      failer2.exec("SET LOCAL statement_timeout = '20s'");
      EXPECT_NO_THROW(fail(failer2, second));
      failing2.commit();
    }
    EXPECT_FALSE(queued);
    failing1.commit();
    t.join();
    ASSERT_EQ(error, "");
    EXPECT_EQ(
        s.db.rows(fmt::format(
            "SELECT jq_pk, jq_endtext FROM jobqueue WHERE jq_job_fk = {} ORDER BY jq_pk", job)),
        (std::vector<std::string>{fmt::format("{}|broke", p), fmt::format("{}|broke", x),
                                  fmt::format("{}|dependency failed", d)}));
  }
}

// in_transaction (queue_plan.hpp), which jobctl and the web page queue with: a transaction that
// PostgreSQL aborted for a deadlock runs again, rolled back first; other errors do not.
TEST(InTransaction, RunsAgainOnlyAfterAConflictRolledBack) {
  TempDatabase tmp;
  agent::Database db(tmp.conninfo());
  db.exec("CREATE TABLE t (n int)");
  int calls = 0;
  int got = queue_in_transaction(db, calls, 1, "40P01");
  EXPECT_EQ(got, 2);
  EXPECT_EQ(tmp.query("SELECT string_agg(n::text, ',') FROM t"), "2");

  calls = 0;
  try {
    queue_in_transaction(db, calls, 1, "42P01");
    ADD_FAILURE() << "an error that is no conflict was not thrown";
  } catch (const agent::Error& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
  }
  EXPECT_EQ(calls, 1);

  calls = 0;
  EXPECT_THROW(queue_in_transaction(db, calls, 100, "40001"), agent::Error);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(tmp.query("SELECT count(*) FROM t"), "1");
}

TEST(Dependencies, DependentsOfAStepTheSchedulerFailsNeverWait) {
  auto settings = test::fast_settings();
  settings.heartbeat_timeout = 30;
  settings.agents = {test::fake_agent("hang", "--hang")};
  SchedulerHarness h(settings);
  h.start();
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE(round);
    long long p = h.queue("hang", "p");
    ASSERT_TRUE(h.wait_started(p, 30s)) << h.log();
    long long job =
        value(h.db(), fmt::format("SELECT jq_job_fk FROM jobqueue WHERE jq_pk = {}", p));
    int n = race_dependents(h.db(), job, p, [&] {
      auto reply = h.control("kill " + test::pk(p) + " \"race\"");
      ASSERT_FALSE(reply.empty());
      ASSERT_TRUE(h.wait_ended(p, 30s));
    });
    EXPECT_EQ(h.endtext(p), "killed: race");
    EXPECT_EQ(h.db().query(fmt::format("SELECT count(*) FROM jobqueue WHERE jq_job_fk = {} AND "
                                       "jq_pk <> {} AND jq_endtext = 'dependency failed'",
                                       job, p)),
              std::to_string(n));
  }
}

TEST(Dependencies, ReopenedStepBehindAFailedPrerequisiteStaysFailed) {
  Schema s;
  long long job = value(s.db, "SELECT queue_job('reopen')");
  long long p = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'p')", job));
  long long d = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'd', ARRAY[{}])", job, p));
  s.db.query(fmt::format(
      "UPDATE jobqueue SET jq_endtime = now(), jq_end_bits = 2, jq_endtext = 'x' WHERE jq_pk = {}",
      p));
  ASSERT_EQ(s.db.query(fmt::format("SELECT jq_endtext FROM jobqueue WHERE jq_pk = {}", d)),
            "dependency failed");
  s.db.query(fmt::format(
      "UPDATE jobqueue SET jq_endtime = NULL, jq_end_bits = 0, jq_endtext = NULL WHERE jq_pk = {}",
      d));
  EXPECT_EQ(s.db.rows(fmt::format("SELECT jq_endtime IS NOT NULL, jq_end_bits, jq_endtext "
                                  "FROM jobqueue WHERE jq_pk = {}",
                                  d)),
            std::vector<std::string>{"t|2|dependency failed"});
  // Re-opening the prerequisite too lets the dependent be re-opened.
  s.db.query(fmt::format(
      "UPDATE jobqueue SET jq_endtime = NULL, jq_end_bits = 0, jq_endtext = NULL WHERE jq_pk "
      "IN ({}, {})",
      p, d));
  EXPECT_EQ(
      s.db.query(fmt::format(
          "SELECT count(*) FROM jobqueue WHERE jq_pk IN ({}, {}) AND jq_endtime IS NULL", p, d)),
      "2");
}

TEST(Dependencies, CyclesThroughJobdependsFailTheirStepsNamingTheCycle) {
  Schema s;
  long long job = value(s.db, "SELECT queue_job('cycle')");
  auto step = [&] { return value(s.db, fmt::format("SELECT queue_step({}, 'x', 'c')", job)); };
  long long a = step(), b = step(), c = step(), self = step();
  long long after = value(s.db, fmt::format("SELECT queue_step({}, 'x', 'd', ARRAY[{}])", job, a));
  // a waits for b, b for c, c for a: the third edge closes the cycle.
  s.db.query(fmt::format("INSERT INTO jobdepends VALUES ({}, {}), ({}, {})", a, b, b, c));
  EXPECT_EQ(s.db.query(fmt::format("SELECT count(*) FROM jobqueue WHERE jq_pk IN ({}, {}, {}) AND "
                                   "jq_endtime IS NULL",
                                   a, b, c)),
            "3");
  s.db.query(fmt::format("INSERT INTO jobdepends VALUES ({}, {})", c, a));
  std::string cycle = fmt::format("dependency cycle: {} -> {} -> {} -> {}", c, a, b, c);
  for (long long pk : {a, b, c}) {
    EXPECT_EQ(s.db.query(fmt::format("SELECT jq_endtext FROM jobqueue WHERE jq_pk = {}", pk)),
              cycle)
        << pk;
  }
  EXPECT_EQ(s.db.query(fmt::format("SELECT jq_endtext FROM jobqueue WHERE jq_pk = {}", after)),
            "dependency failed");
  s.db.query(fmt::format("INSERT INTO jobdepends VALUES ({}, {})", self, self));
  EXPECT_EQ(s.db.query(fmt::format("SELECT jq_endtext FROM jobqueue WHERE jq_pk = {}", self)),
            fmt::format("dependency cycle: {} -> {}", self, self));
}

TEST(Dependencies, TheSchedulerRunsOtherWorkBesideACycle) {
  auto settings = test::fast_settings();
  settings.agents = {test::fake_agent("ok")};
  SchedulerHarness h(settings);
  h.start();
  long long job = value(h.db(), "SELECT queue_job('cycle')");
  // Queued and made cyclic in one transaction, so the scheduler never sees them ready.
  auto pks = h.db().rows(fmt::format(
      "WITH a AS (SELECT queue_step({0}, 'ok', 'a') AS pk), b AS (SELECT queue_step({0}, 'ok', "
      "'b') AS pk), e AS (INSERT INTO jobdepends SELECT a.pk, b.pk FROM a, b UNION ALL SELECT "
      "b.pk, a.pk FROM a, b RETURNING 1) SELECT a.pk || '|' || b.pk FROM a, b, (SELECT count(*) "
      "FROM e) n",
      job));
  ASSERT_EQ(pks.size(), 1u);
  long long a = std::stoll(pks[0].substr(0, pks[0].find('|')));
  long long b = std::stoll(pks[0].substr(pks[0].find('|') + 1));
  long long other = h.queue("ok", "other");
  ASSERT_TRUE(h.wait_ended(other, 30s)) << h.log();
  EXPECT_EQ(h.endtext(other), "Completed");
  for (long long pk : {a, b}) {
    EXPECT_TRUE(contains(h.endtext(pk), "dependency cycle: ")) << h.endtext(pk);
    EXPECT_EQ(h.column(pk, "jq_starttime"), "") << pk;
  }
}

}  // namespace
