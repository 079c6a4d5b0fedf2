// The scheduler survives its database (docs/architecture.md, "The database"): PostgreSQL
// restarted or down while agents run, a database not up yet at start (--db-wait), SQL-fed steps
// and DB: requests across a restart, and the scheduler's lock taken by another session while
// its connection was gone. Each test runs its own PostgreSQL cluster (PrivateCluster), which it
// restarts or stops; the shared `pg` fixture is never touched.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "feed_test_util.hpp"
#include "private_cluster.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::contains;
using test::count_of;
using test::pk;
using test::SchedulerHarness;
using test::SchedulerSettings;

constexpr const char* kLost = "database connection lost: ";
constexpr const char* kBack = "database connection back after ";

// fast_settings, with no fallback poll within a test: a step found after an outage was found
// by the poll that follows the reconnection (or a NOTIFY), never by the timer.
SchedulerSettings settings() {
  auto s = test::fast_settings();
  s.heartbeat_timeout = 30;
  s.poll_interval = 600;
  return s;
}

// A step of type `type` whose fake_agent works `ms` on its line (jq_cmd_args).
long long queue_work(SchedulerHarness& h, const std::string& type, int ms) {
  SchedulerHarness::Step step;
  step.type = type;
  step.args = "x";
  step.cmd_args = "--work-ms=" + std::to_string(ms);
  return h.queue(step);
}

class Reconnect : public ::testing::Test {
 protected:
  test::PrivateCluster cluster;
};

// (a) pg_ctl restart -m fast while a long step runs and another waits for a slot: the running
// agent is not killed (one agent, exited cleanly), every step completes with its count, a step
// queued after the restart starts without the fallback poll, one "lost" and one "back" line.
TEST_F(Reconnect, RestartWhileAStepRunsAndOthersWait) {
  auto s = settings();
  s.agents = {test::fake_agent("long", "--heartbeat-ms=200", 1), test::fake_agent("quick")};
  SchedulerHarness h(s, cluster.conninfo());
  h.start();
  long long a = queue_work(h, "long", 3000);
  long long waiting = queue_work(h, "long", 500);  // max 1: waits for a
  ASSERT_TRUE(h.wait_started(a, 30s)) << h.log();
  pid_t agent = test::agent_pid(h, a);
  ASSERT_GT(agent, 0);

  cluster.restart();
  long long b = h.queue("quick", "y");  // its NOTIFY may come before the scheduler LISTENs again

  for (long long step : {a, waiting, b}) {
    ASSERT_TRUE(h.wait_ended(step, 60s)) << "step " << step << "\n" << h.log();
    EXPECT_EQ(h.endtext(step), "Completed") << h.step_log(step);
    EXPECT_EQ(h.items(step), 1) << "step " << step;
  }
  EXPECT_EQ(test::started_pids(h.step_log(a)), std::vector<long>{agent}) << h.step_log(a);
  EXPECT_TRUE(contains(
      h.log(), "JOB[" + pk(a) + "].long[" + std::to_string(agent) + ".localhost]: exited cleanly"))
      << h.log();
  std::string log = h.log();
  EXPECT_EQ(count_of(log, kLost), 1) << log;
  EXPECT_EQ(count_of(log, kBack), 1) << log;
  EXPECT_FALSE(contains(log, "cannot read the job queue")) << log;
  EXPECT_FALSE(contains(log, "cannot record")) << log;
}

// (b) PostgreSQL down for 10 s while agents run and end, and a priority is changed: the ends
// are written once it is back, in the order the agents ended, each with its count; the
// priority too. The outage is logged once, however many attempts it took. Each agent
// finishes its line only when the test creates its file (--wait-file), one after the other
// while the database is away, so that none can end before the outage on a slow machine.
TEST_F(Reconnect, DownTenSecondsWhileAgentsEnd) {
  auto s = settings();
  s.agents = {test::fake_agent("work", "--heartbeat-ms=200")};
  SchedulerHarness h(s, cluster.conninfo());
  h.start();
  test::TempDir gates;
  auto gate = [&](std::size_t i) { return gates.path() + "/end-" + std::to_string(i); };
  std::vector<long long> steps;
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < 3; ++i) steps.push_back(test::queue_held(h, "work", "x", gate(i)));
  for (long long step : steps) {
    ASSERT_TRUE(h.wait_started(step, 30s)) << h.log();
    pids.push_back(test::agent_pid(h, step));
  }

  auto down_at = std::chrono::steady_clock::now();
  cluster.down();
  ASSERT_TRUE(test::eventually([&] { return contains(h.log(), kLost); }, 10s)) << h.log();
  // Accepted (the write waits for the database): no error line.
  EXPECT_EQ(h.control("priority " + pk(steps[2]) + " 7"),
            (std::vector<std::string>{"received", "end"}));
  // Every agent ends while the database is away, each once the scheduler has seen the one
  // before it end ...
  for (std::size_t i = 0; i < steps.size(); ++i) {
    test::let_go(gate(i));
    std::string ended =
        "JOB[" + pk(steps[i]) + "].work[" + std::to_string(pids[i]) + ".localhost]: exited cleanly";
    ASSERT_TRUE(test::eventually([&] { return contains(h.log(), ended); }, 30s)) << h.log();
  }
  // ... and the outage lasts 10 s (the scenario, not a synchronisation).
  std::this_thread::sleep_until(down_at + 10s);
  EXPECT_EQ(count_of(h.log(), kLost), 1) << h.log();
  cluster.up();

  for (long long step : steps) {
    ASSERT_TRUE(h.wait_ended(step, 60s)) << h.log();
    EXPECT_EQ(h.endtext(step), "Completed");
    EXPECT_EQ(h.items(step), 1);
    EXPECT_EQ(test::started_pids(h.step_log(step)).size(), 1u) << h.step_log(step);
  }
  std::string in = "(" + pk(steps[0]) + "," + pk(steps[1]) + "," + pk(steps[2]) + ")";
  EXPECT_EQ(h.db().rows("SELECT jq_pk FROM jobqueue WHERE jq_pk IN " + in + " ORDER BY jq_endtime"),
            (std::vector<std::string>{pk(steps[0]), pk(steps[1]), pk(steps[2])}));
  EXPECT_EQ(h.db().query("SELECT count(*) FROM jobqueue WHERE jq_pk IN " + in +
                         " AND jq_endtime > pg_postmaster_start_time()"),
            "3");  // written after it was back
  EXPECT_EQ(h.db().query("SELECT job_priority FROM job JOIN jobqueue ON jq_job_fk = job_pk "
                         "WHERE jq_pk = " +
                         pk(steps[2])),
            "7");
  std::string log = h.log();
  EXPECT_EQ(count_of(log, kLost), 1) << log;
  EXPECT_EQ(count_of(log, kBack), 1) << log;
}

// (c) Started before its database is up: it says so once, waits, then runs the queued step.
TEST_F(Reconnect, WaitsAtStartForADatabaseNotUpYet) {
  auto s = settings();
  s.agents = {test::fake_agent("quick")};
  SchedulerHarness h(s, cluster.conninfo());
  long long step = h.queue("quick", "x");
  cluster.down();
  h.start();
  ASSERT_TRUE(
      test::eventually([&] { return contains(h.log(), "waiting for the database at host="); }, 30s))
      << h.log();
  EXPECT_TRUE(contains(h.log(), "; retrying for up to 60 s")) << h.log();
  cluster.up();
  ASSERT_TRUE(h.wait_ended(step, 60s)) << h.log();
  EXPECT_EQ(h.endtext(step), "Completed");
  EXPECT_EQ(count_of(h.log(), "waiting for the database"), 1) << h.log();
}

// (c) A bound that passes: exit 4 with the message; --db-wait 0 tries once; --init-db waits
// the same way.
TEST_F(Reconnect, GivesUpAfterDbWaitWithExitCode4) {
  SchedulerHarness h(settings(), cluster.conninfo());
  cluster.down();
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "--db-wait", "1"});
  EXPECT_EQ(r.exit_code(), 4) << r.output;
  EXPECT_EQ(count_of(r.output, "WARNING: waiting for the database at host="), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "; retrying for up to 1 s")) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: no database at host=")) << r.output;
  EXPECT_TRUE(contains(r.output, "after 1 s (--db-wait)")) << r.output;

  r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "--db-wait", "0"});
  EXPECT_EQ(r.exit_code(), 4) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: cannot connect to the database at host=")) << r.output;
  EXPECT_FALSE(contains(r.output, "waiting")) << r.output;

  r = h.run({"--init-db", "--db", h.db().conninfo(), "--db-wait", "1"});
  EXPECT_EQ(r.exit_code(), 4) << r.output;
  EXPECT_TRUE(contains(r.output, "waiting for the database at host=")) << r.output;
}

TEST_F(Reconnect, InitDbWaitsForTheDatabase) {
  test::TempDatabase db(cluster.conninfo());
  cluster.down();
  test::Child init({test::build_dir() + "/scheduler/scheduler", "--init-db", "--db", db.conninfo(),
                    "--db-wait", "60"},
                   {{}, true, ""});
  std::vector<std::string> seen;
  bool waiting = false;
  while (!waiting) {
    auto line = init.read_line(30s);
    if (!line) break;
    waiting = contains(*line, "waiting for the database at host=");
    seen.push_back(*line);
  }
  ASSERT_TRUE(waiting) << test::joined(seen);
  cluster.up();
  std::string rest = init.read_all(60s);
  auto status = init.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << rest;
  EXPECT_TRUE(contains(rest, "schema upgraded from version 0")) << rest;
}

// (d) An SQL-fed step across a restart: the rows already fetched are fed on, the query runs
// again on a new connection, and the step completes with every row processed (some twice:
// at-least-once) and jq_itemsprocessed equal to the lines the agents processed.
TEST_F(Reconnect, SqlFedStepCompletesAcrossARestart) {
  auto s = settings();
  s.hosts[0].max = 2;
  s.agents = {test::feed::row_agent()};
  SchedulerHarness h(s, cluster.conninfo());
  constexpr int kRows = 5000;
  test::feed::make_tables(h.db(), kRows);
  std::string record = h.conf_dir() + "/record";
  h.start();
  long long step = h.queue(
      test::feed::sql_step("SELECT id, k FROM items", "--record=" + record + " --work-ms=2"));
  ASSERT_TRUE(test::eventually([&] { return test::file_lines(record).size() >= 500; }, 60s))
      << h.log();
  cluster.restart();
  ASSERT_TRUE(h.wait_ended(step, 180s)) << h.log();
  EXPECT_EQ(h.endtext(step), "Completed") << h.step_log(step);

  std::set<std::string> ids;
  auto lines = test::file_lines(record);
  for (const auto& l : lines) {
    auto row = l.substr(l.find(' ') + 1);  // "<host> id='n' k='...'"
    ids.insert(row.substr(0, row.find(' ')));
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRows));
  EXPECT_GE(lines.size(), static_cast<std::size_t>(kRows));
  EXPECT_EQ(h.items(step), static_cast<long long>(lines.size()));
  std::string log = h.log();
  EXPECT_EQ(count_of(log, "JOB[" + pk(step) + "]: feed connection lost: "), 1) << log;
  EXPECT_EQ(count_of(log, "JOB[" + pk(step) + "]: feed connection back after "), 1) << log;
  EXPECT_EQ(count_of(log, kLost), 1) << log;  // the queue connection's own outage
}

// (e) A DB: request in flight when PostgreSQL restarts gets DBERROR (its agent goes on and
// completes); a request after the restart connects again and gets its rows.
TEST_F(Reconnect, DbRequestAcrossARestart) {
  auto s = settings();
  s.agents = {test::fake_agent("slowdb", "--heartbeat-ms=200 --db='SELECT pg_sleep(20)'"),
              test::fake_agent("quickdb", "--db='SELECT 1 AS one'")};
  for (auto& a : s.agents) a.allow_db = true;
  SchedulerHarness h(s, cluster.conninfo());
  h.start();
  long long slow = h.queue("slowdb", "x");
  ASSERT_TRUE(test::eventually(
      [&] {
        return h.db().query(
                   "SELECT count(*) FROM pg_stat_activity "
                   "WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'") == "1";
      },
      30s))
      << h.log();
  cluster.restart();
  ASSERT_TRUE(h.wait_ended(slow, 60s)) << h.log();
  EXPECT_EQ(h.endtext(slow), "Completed") << h.step_log(slow);
  EXPECT_TRUE(contains(h.step_log(slow), "\"db: DBERROR ")) << h.step_log(slow);

  long long quick = h.queue("quickdb", "x");
  ASSERT_TRUE(h.wait_ended(quick, 60s)) << h.log();
  EXPECT_EQ(h.endtext(quick), "Completed");
  std::string log = h.step_log(quick);
  EXPECT_TRUE(contains(log, "\"db: DBSTART\"")) << log;
  EXPECT_TRUE(contains(log, "\"db: one='1'\"")) << log;
  EXPECT_TRUE(contains(log, "\"db: DBEOF\"")) << log;
  EXPECT_EQ(count_of(h.log(), "DB: connection lost: "), 1) << h.log();
  EXPECT_EQ(count_of(h.log(), "DB: connection back"), 1) << h.log();
}

// While the scheduler's connection is gone, another session takes its advisory lock (as a
// second scheduler starting then would): it stops with exit code 5, writes nothing more and
// kills its agents. The other session queues for the lock before the scheduler's session is
// terminated, so it is granted the lock as that session ends, before any reconnection.
TEST_F(Reconnect, LockTakenMeanwhileStopsWithExitCode5) {
  auto s = settings();
  s.agents = {test::fake_agent("hang", "--hang")};
  SchedulerHarness h(s, cluster.conninfo());
  h.start();
  long long step = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(step, 30s)) << h.log();
  pid_t agent = test::agent_pid(h, step);

  std::unique_ptr<PGconn, decltype(&PQfinish)> other(PQconnectdb(h.db().conninfo().c_str()),
                                                     PQfinish);
  ASSERT_EQ(PQstatus(other.get()), CONNECTION_OK) << PQerrorMessage(other.get());
  ASSERT_EQ(PQsendQuery(other.get(), "SELECT pg_advisory_lock(7428190235)"), 1);
  ASSERT_TRUE(test::eventually(
      [&] {
        return h.db().query(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                   "NOT granted") == "1";
      },
      10s));
  EXPECT_EQ(h.db().query("SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                         "WHERE locktype = 'advisory' AND granted"),
            "1");
  PGresult* r = PQgetResult(other.get());  // the lock is the other session's now
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  while ((r = PQgetResult(other.get())) != nullptr) PQclear(r);

  ASSERT_TRUE(h.process()->wait(30s).has_value()) << h.log();
  h.stop();  // already exited: collects the status
  ASSERT_TRUE(h.last_status().has_value());
  EXPECT_TRUE(WIFEXITED(*h.last_status()) && WEXITSTATUS(*h.last_status()) == 5) << h.log();
  EXPECT_TRUE(contains(h.log(), "FATAL: another scheduler took this database")) << h.log();
  EXPECT_TRUE(test::eventually([&] { return !test::process_alive(agent); }, 10s));
  EXPECT_EQ(h.endtext(step), "Started");  // nothing written: the step is the other's now
  EXPECT_EQ(h.column(step, "jq_endtime"), "");
}

// A new database, never analyzed (autovacuum has not come by), with 10,000 steps queued: the
// scheduler's polls read jobqueue_ready_idx in order, never the whole backlog, before and after
// a restart (its planner settings, sql::kPlanner, are made again on every connection). With
// bitmap scans allowed, each poll read every entry of that index (~10,000); in order, ~40 (the
// steps it returns and those in memory). How many polls run depends on time, not on steps (while
// steps wait in memory a poll tops them up every kTopUp), so the bound is per poll.
TEST_F(Reconnect, PollsReadANeverAnalyzedBacklogInOrderAcrossARestart) {
  constexpr int kQueued = 10000;
  auto s = settings();
  s.hosts[0].max = 1;  // no type with a max of its own: the plain poll (sql::kReadySteps)
  s.agents = {test::fake_agent("quick")};
  SchedulerHarness h(s, cluster.conninfo());
  h.db().query("ALTER TABLE jobqueue SET (autovacuum_enabled = off)");  // no ANALYZE meanwhile
  h.db().query(
      "SELECT count(queue_step(queue_job('j'), 'quick', 'x' || g)) "
      "FROM generate_series(1, " +
      std::to_string(kQueued) + ") g");
  auto counter = std::make_unique<test::Session>(h.db().conninfo());
  auto ended = [&] {
    return std::stol(counter->query("SELECT count(*) FROM jobqueue WHERE jq_endtime IS NOT NULL"));
  };
  h.start();
  ASSERT_TRUE(test::eventually([&] { return ended() >= 100; }, 60s)) << h.log();
  cluster.restart();
  counter = std::make_unique<test::Session>(h.db().conninfo());
  long before = ended();
  ASSERT_TRUE(test::eventually([&] { return ended() >= before + 100; }, 60s)) << h.log();
  h.stop();
  // A backend's statistics are written when it exits: wait for the scheduler's to be gone. (The
  // wait polls through the kept session: a new connection each poll would leave backends of its
  // own exiting.)
  ASSERT_TRUE(test::eventually(
      [&] {
        return counter->query(
                   "SELECT count(*) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND pid <> pg_backend_pid()") == "0";
      },
      30s));
  EXPECT_EQ(counter->query("SELECT reltuples < 0 FROM pg_class WHERE relname = 'jobqueue'"), "t");
  auto read = counter->rows(
      "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes "
      "WHERE indexrelname = 'jobqueue_ready_idx'");
  ASSERT_EQ(read.size(), 1u);
  long scans = std::stol(read[0].substr(0, read[0].find('|')));
  long entries = std::stol(read[0].substr(read[0].find('|') + 1));
  ASSERT_GT(scans, 1) << "polls that read the index";
  EXPECT_LT(entries / scans, 500) << entries << " index entries read by " << scans << " scans";
}

}  // namespace
