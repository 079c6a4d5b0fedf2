// durable_bench: benchmark g (issue 18), durable results through libagent's KILL-safe loop
// against what PostgreSQL itself does on the same private cluster (tests/support). Built, not
// registered with CTest. Measures, best of 3 runs each (the 100-row transactions and the
// grouped loops in turns):
//   g.durable.default  items/s through agent::ItemLoop with libagent's defaults (durable_agent
//                      without --group/--window), one result row per item, fed by this program
//                      playing the scheduler over pipes (WINDOW, one line per OK, SPEC §2.5);
//   g.durable.group1   the same with --group 1 --window 1 (one transaction per item);
//   g.durable.group100 the same with --group 100 --window 200;
//   g.pg.commit1       plain libpq: one single-row INSERT per transaction (autocommit);
//   g.pg.tx100         plain libpq: BEGIN, 100 single-row INSERTs, COMMIT, each transaction
//                      sent as one pipeline (one round trip); the better of the INSERT parsed
//                      each time (g.pg.tx100.parsed) and prepared once (.prepared). It is the
//                      limit of every line.
// The time of a loop run is from the agent's first OK to the OK of its last item, so the
// agent's start (connecting, agent_pk) is not counted. Output: one tab-separated line each,
//   RESULT id what figure unit limit-what limit ratio target met
// Usage: durable_bench [items (default 50000)]; $DURABLE_AGENT names another durable_agent
// (e.g. one built against another libagent) to measure instead of this build's. JOBLINE_BUILD_DIR,
// JOBLINE_SOURCE_DIR and JOBLINE_TEST_STATE default to this build's own (docs/testing.md).
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "private_cluster.hpp"
#include "schema_install.hpp"
#include "support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Conn {
  explicit Conn(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
  }
  ~Conn() { PQfinish(c); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  PGconn* c;
};

void check(PGresult* r, PGconn* c, const char* what) {
  const ExecStatusType st = PQresultStatus(r);
  const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_PIPELINE_SYNC;
  const std::string message = ok ? "" : std::string(PQerrorMessage(c));
  PQclear(r);
  if (!ok) throw std::runtime_error(std::string(what) + ": " + message);
}

void exec(PGconn* c, const char* sql) {
  check(PQexec(c, sql), c, sql);
}

const char* const insert_sql =
    "INSERT INTO pg_result (agent_fk, item, value) VALUES ($1, $2, md5($2))";

// Fresh table of the same shape as durable_agent's, so both write the same rows.
void reset_table(PGconn* c) {
  exec(c, "DROP TABLE IF EXISTS pg_result");
  exec(c,
       "CREATE TABLE pg_result (agent_fk integer NOT NULL REFERENCES agent, item text NOT NULL, "
       "value text NOT NULL)");
  exec(c,
       "INSERT INTO agent (agent_name, agent_rev, agent_desc) VALUES ('pg_bench', '1', '') "
       "ON CONFLICT DO NOTHING");
}

std::string agent_fk(PGconn* c) {
  PGresult* r = PQexec(c, "SELECT agent_pk FROM agent WHERE agent_name = 'pg_bench'");
  std::string pk = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  if (pk.empty()) throw std::runtime_error("no agent row for pg_bench");
  return pk;
}

// CPU time (user + system) of a process so far, in microseconds; 0 when unknown.
double cpu_us(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i)
    if (i >= 14) ticks += std::stod(field);  // utime, stime
  return ticks * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Rows/s of one single-row INSERT per transaction (autocommit, PQexecParams).
double pg_commit1(const std::string& conninfo, int rows) {
  Conn conn(conninfo);
  reset_table(conn.c);
  const std::string fk = agent_fk(conn.c);
  const auto t0 = Clock::now();
  for (int i = 0; i < rows; ++i) {
    const std::string item = "c1-" + std::to_string(i);
    const char* values[] = {fk.c_str(), item.c_str()};
    check(PQexecParams(conn.c, insert_sql, 2, nullptr, values, nullptr, nullptr, 0), conn.c,
          "INSERT");
  }
  return rows / seconds_since(t0);
}

// Rows/s of 100-row transactions: BEGIN, 100 INSERTs, COMMIT, Sync sent together in pipeline
// mode, then every result read (one round trip per transaction). `prepared`: the INSERT is
// prepared once (PQsendPrepare) and then only executed, else it is parsed every time.
double pg_tx100(const std::string& conninfo, int rows, bool prepared) {
  Conn conn(conninfo);
  reset_table(conn.c);
  const std::string fk = agent_fk(conn.c);
  if (prepared) {
    PGresult* r = PQprepare(conn.c, "ins", insert_sql, 2, nullptr);
    check(r, conn.c, "PREPARE");
  }
  if (PQenterPipelineMode(conn.c) != 1) throw std::runtime_error("PQenterPipelineMode failed");
  const auto send = [&](const char* sql, int n, const char* const* values) {
    const int sent = n > 0 && prepared
                         ? PQsendQueryPrepared(conn.c, "ins", n, values, nullptr, nullptr, 0)
                         : PQsendQueryParams(conn.c, sql, n, nullptr, values, nullptr, nullptr, 0);
    if (sent != 1) throw std::runtime_error(PQerrorMessage(conn.c));
  };
  const auto t0 = Clock::now();
  for (int done = 0; done < rows;) {
    const int n = std::min(100, rows - done);
    send("BEGIN", 0, nullptr);
    for (int i = 0; i < n; ++i) {
      const std::string item = "t100-" + std::to_string(done + i);
      const char* values[] = {fk.c_str(), item.c_str()};
      send(insert_sql, 2, values);
    }
    send("COMMIT", 0, nullptr);
    if (PQpipelineSync(conn.c) != 1) throw std::runtime_error(PQerrorMessage(conn.c));
    // Each statement's result is followed by a nullptr; the Sync's result ends the pipeline.
    for (int results = 0;;) {
      PGresult* r = PQgetResult(conn.c);
      if (r == nullptr) continue;
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        if (results != n + 2) throw std::runtime_error("pipelined results missing");
        break;
      }
      ++results;
      check(r, conn.c, "pipelined statement");
    }
    done += n;
  }
  const double rate = rows / seconds_since(t0);
  if (std::getenv("DURABLE_PROFILE") != nullptr)
    std::fprintf(stderr, "tx100%s: %.1f us CPU/row in the backend (all of its life)\n",
                 prepared ? " prepared" : "", cpu_us(PQbackendPID(conn.c)) / rows);
  return rate;
}

// $DURABLE_AGENT, else this build's durable_agent (another build's, to compare two libagents).
std::string agent_path() {
  const char* other = std::getenv("DURABLE_AGENT");
  return other != nullptr && *other != '\0' ? other
                                            : test::build_dir() + "/tests/bench/durable_agent";
}

// Plays the scheduler for one durable_agent run over `items` fresh items (SPEC §2.5: after
// WINDOW n and the first OK, n lines in flight; each later OK acknowledges the oldest and asks
// for one more). Returns items/s from the first OK to the last item's OK.
double loop_rate(const std::string& conninfo, const std::string& tag, int items,
                 const std::vector<std::string>& options) {
  {  // empty tables, as the limit's (reset_table): each run starts from the same state
    Conn conn(conninfo);
    exec(conn.c, "TRUNCATE agent_item_done");
    exec(conn.c,
         "DO $$BEGIN IF to_regclass('durable_result') IS NOT NULL THEN "
         "TRUNCATE durable_result; END IF; END$$");
  }
  std::vector<std::string> argv{agent_path(), "--scheduler_start", "--db=" + conninfo};
  argv.insert(argv.end(), options.begin(), options.end());
  test::Child child(argv);
  int window = 1, in_flight = 0, next = 0, acked = 0;
  bool started = false;
  Clock::time_point t0;
  double own_cpu_us = 0;  // this process's, at t0
  int commits = 0;
  const auto on_line = [&](const std::string& line) {
    if (line.rfind("WINDOW ", 0) == 0) {
      window = std::stoi(line.substr(7));
    } else if (line == "OK") {
      if (started) {
        --in_flight;
        ++acked;
      } else {
        started = true;
        t0 = Clock::now();
        own_cpu_us = cpu_us(::getpid());
      }
    } else if (line.rfind("ItemsProcessed ", 0) == 0) {
      ++commits;  // the loop reports each commit
    } else if (line.rfind("FATAL", 0) == 0 || line.rfind("ERROR", 0) == 0) {
      throw std::runtime_error("durable_agent: " + line);
    }
  };
  while (acked < items) {
    const auto line = child.read_line(60s);
    if (!line) {
      throw std::runtime_error("durable_agent stopped after " + std::to_string(acked) +
                               " items: " + child.read_stderr_all(1s));
    }
    on_line(*line);
    while (const auto more = child.read_line(0ms)) on_line(*more);
    if (in_flight < 0) throw std::runtime_error("durable_agent: an OK with nothing in flight");
    std::string batch;
    for (; started && in_flight < window && next < items; ++next, ++in_flight)
      batch += tag + "-" + std::to_string(next) + "\n";
    if (!batch.empty()) child.write(batch);
  }
  const double rate = items / seconds_since(t0);
  if (std::getenv("DURABLE_PROFILE") != nullptr) {  // where the CPU time went, per item
    Conn conn(conninfo);
    PGresult* r = PQexec(conn.c,
                         "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                         "AND pid <> pg_backend_pid() AND datname = current_database()");
    const long backend = PQntuples(r) == 1 ? std::stol(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    std::fprintf(stderr,
                 "%s: %.1f items/commit; %.1f us CPU/item in the agent, %.1f in its backend "
                 "(pid %ld), %.1f here\n",
                 tag.c_str(), static_cast<double>(items) / std::max(commits, 1),
                 cpu_us(child.pid()) / items, cpu_us(backend) / items, backend,
                 (cpu_us(::getpid()) - own_cpu_us) / items);
  }
  child.close_stdin();
  const auto status = child.wait(60s);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error("durable_agent did not exit 0: " + child.read_stderr_all(1s));
  return rate;
}

void count_rows(const std::string& conninfo, const std::string& tag, int items) {
  Conn conn(conninfo);
  const std::string pattern = tag + "-%";
  const char* values[] = {pattern.c_str()};
  PGresult* r = PQexecParams(conn.c, "SELECT count(*) FROM durable_result WHERE item LIKE $1", 1,
                             nullptr, values, nullptr, nullptr, 0);
  const std::string got = PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?";
  PQclear(r);
  if (got != std::to_string(items))
    throw std::runtime_error(tag + ": " + got + " result rows for " + std::to_string(items) +
                             " items");
}

template <typename F>
double best_of_3(F measure) {
  double best = 0;
  for (int i = 0; i < 3; ++i) best = std::max(best, measure(i));
  return best;
}

void result(const std::string& id, const std::string& what, double figure, const char* unit,
            double limit, bool with_target) {
  const double ratio = figure / limit;
  std::printf("RESULT\t%s\t%s\t%.0f\t%s\tPostgreSQL 100-row transactions\t%.0f\t%.3f\t%s\t%s\n",
              id.c_str(), what.c_str(), figure, unit, limit, ratio, with_target ? ">= 0.5x" : "-",
              with_target ? (ratio >= 0.5 ? "yes" : "no") : "-");
  std::fflush(stdout);
}

void default_env(const char* name, const char* value) {
  if (std::getenv(name) == nullptr) ::setenv(name, value, 0);
}

}  // namespace

int main(int argc, char** argv) try {
  const int items = argc > 1 ? std::stoi(argv[1]) : 50000;
  if (items < 100) throw std::runtime_error("items: at least 100");
  default_env("JOBLINE_BUILD_DIR", JOBLINE_BENCH_BUILD_DIR);
  default_env("JOBLINE_SOURCE_DIR", JOBLINE_BENCH_SOURCE_DIR);
  default_env("JOBLINE_TEST_STATE", JOBLINE_BENCH_BUILD_DIR "/test-state");

  test::PrivateCluster cluster;
  test::TempDatabase db(cluster.conninfo());
  jobline::schema::install(db.conninfo());
  const std::string& ci = db.conninfo();

  if (std::getenv("DURABLE_ONLY_DEFAULT") != nullptr) {  // for profiling the loop alone
    std::printf("tx100 prepared: %.0f rows/s\n", pg_tx100(ci, items, true));
    std::printf("default: %.0f items/s\n", loop_rate(ci, "only", items, {}));
    return 0;
  }
  const double commit1 = best_of_3([&](int) { return pg_commit1(ci, std::min(items, 10000)); });
  const int slow_items = std::min(items, 3000);  // one commit per item is slow
  const double group1 = best_of_3([&](int run) {
    const std::string tag = "g1r" + std::to_string(run);
    const double rate = loop_rate(ci, tag, slow_items, {"--group", "1", "--window", "1"});
    count_rows(ci, tag, slow_items);
    return rate;
  });
  // The limit and the grouped loops in turns, so that a change in the machine's load (it is
  // shared) weighs on both alike; best of 3 each. The limit: the better of parsing each INSERT
  // and preparing it once.
  double tx100_parsed = 0, tx100_prepared = 0, group100 = 0, dflt = 0;
  for (int run = 0; run < 3; ++run) {
    tx100_parsed = std::max(tx100_parsed, pg_tx100(ci, items, false));
    tx100_prepared = std::max(tx100_prepared, pg_tx100(ci, items, true));
    const std::string g100 = "g100r" + std::to_string(run);
    group100 =
        std::max(group100, loop_rate(ci, g100, items, {"--group", "100", "--window", "200"}));
    count_rows(ci, g100, items);
    const std::string df = "dfr" + std::to_string(run);
    dflt = std::max(dflt, loop_rate(ci, df, items, {}));
    count_rows(ci, df, items);
  }
  const double tx100 = std::max(tx100_parsed, tx100_prepared);

  result("g.pg.commit1", "PostgreSQL, one single-row INSERT per commit (plain libpq)", commit1,
         "rows/s", tx100, false);
  result("g.pg.tx100", "PostgreSQL, 100-row transactions: the better of the two below", tx100,
         "rows/s", tx100, false);
  result("g.pg.tx100.parsed", "PostgreSQL, 100 single-row INSERTs per transaction, pipelined",
         tx100_parsed, "rows/s", tx100, false);
  result("g.pg.tx100.prepared",
         "PostgreSQL, 100 single-row INSERTs per transaction, pipelined, prepared", tx100_prepared,
         "rows/s", tx100, false);
  result("g.durable.group1", "KILL-safe loop, 1 result row per item, --group 1 --window 1", group1,
         "items/s", tx100, false);
  result("g.durable.group100", "KILL-safe loop, 1 result row per item, --group 100 --window 200",
         group100, "items/s", tx100, false);
  result("g.durable.default", "KILL-safe loop, 1 result row per item, libagent's defaults", dflt,
         "items/s", tx100, true);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "durable_bench: %s\n", e.what());
  return 1;
}
