// SqlSource: the data of an SQL-fed step (SPEC §5.2). jq_args is a query; its rows, as row
// lines, are fed to the step's agents on the host that holds each row (Router). It owns its
// own connection (not the queue's, in pipeline mode), opens a NO SCROLL cursor in a transaction
// and FETCHes in batches while the queues are not full, the next FETCH sent as soon as a batch
// arrives (ahead of that batch's bookkeeping), so the server reads ahead while rows are fed and
// memory stays bounded however many rows there are. When every fed row is acknowledged it runs
// the query again; the step ends with the first run that returns no row not already fed in
// this step. The fed rows are remembered as 64-bit hashes in a temporary table of the source's
// connection, so the scheduler's memory stays flat however many rows a step feeds; the cursor
// leaves them out on the server, so a run that finds nothing new sends no row. Owned by its Job.
//
//   NotStarted --first take() (an agent said OK)--> Connecting --connected--> Running (cursor
//       open, fetching on demand)
//   Connecting --cannot connect--> Connecting again after the back-off
//   Running --cursor drained--> Draining (rows out with agents) --all acknowledged-->
//       Running (Connecting if the connection is gone) again if the run fed or skipped new
//       rows or was cut short, else Finished
//   Running --connection lost--> Draining, the run cut short
//   any --query error--> Failed
//
// A lost connection takes the cursor and the table of fed rows with it. The rows already
// fetched are fed on (agents keep running); then the query runs again on a new connection,
// made with back-off (0.1 s doubling to 5 s) for as long as the database stays away. "Already
// fed" then means "fed since the current connection was made": rows fed before the loss may
// be fed again (at-least-once, SPEC §5.2), and a query that keeps returning the same rows
// still ends, one run later per outage.
//
// Before the first run it offers one item to any host, so that the dispatcher starts one
// agent: the query runs when that agent is ready, after the JQ_SUBS it sent first. A row for
// a host whose queue is full is skipped (not fed) and comes back with a later run. Events go
// to the owner from a zero-delay timer, never from inside a database callback, so the owner
// may destroy the source in them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backoff.hpp"
#include "data_source.hpp"
#include "database.hpp"
#include "event_loop.hpp"
#include "jq_subs.hpp"
#include "router.hpp"
#include "row_queues.hpp"

namespace sched {

struct SqlSourceEvents {
  std::function<void()> rows;  // new rows wait for agents
  // How many rows the query returns at the step's start (counted once, for progress and ETA).
  std::function<void(std::size_t)> known;
  // The step's data is done: ok (with a warning for the step log, or "") or failed (message).
  std::function<void(bool ok, const std::string& text)> end;
  // Once when the connection is lost (with the reason) and once when it is back, for the
  // logs; called at once, so it must not destroy the source.
  std::function<void(const std::string& text)> warning;
};

struct SqlSourceLimits {
  std::size_t fetch = 2000;      // rows per FETCH
  std::size_t low = 6000;        // FETCH again when fewer rows wait in open queues
  std::size_t queue_cap = 8000;  // rows per holder queue
};

class SqlSource final : public DataSource {
 public:
  SqlSource(std::string conninfo, std::string query, std::string column, Router router,
            SqlSourceEvents events, SqlSourceLimits limits = {});
  ~SqlSource() override;

  // The step's JQ_SUBS so far; they apply to the next run of the query.
  void set_subs(Substitutions subs) { subs_ = std::move(subs); }

  std::optional<Item> take(const std::string& host) override;
  void done(const Item& item) override;
  void give_back(Item item) override;
  bool finished() const override;
  std::size_t available(const std::string& host) const override;
  bool routed() const override;

  std::size_t fed() const { return fed_; }
  std::size_t runs() const { return runs_; }

 private:
  enum class Phase { NotStarted, Connecting, Running, Draining, Finished, Failed };
  void start_run();
  void connect();
  void declare();
  void lost(const std::string& why);
  void failed(const QueryResult& r, std::string_view what);
  void maybe_fetch(std::size_t incoming = 0);
  void on_fetch(const QueryResult& r);
  bool accept(const QueryResult& r, int row, int column);
  void count(bool drained);
  void end_cursor();
  void close_run();
  void after_progress();
  void fail(const std::string& message);
  void finish();
  void notify();
  void deliver_events();

  std::string conninfo_, query_, column_;
  Router router_;
  SqlSourceEvents events_;
  SqlSourceLimits limits_;
  Substitutions subs_;
  std::unique_ptr<Database> db_;
  Phase phase_ = Phase::NotStarted;
  bool fetching_ = false;
  bool counted_ = false;    // the step's rows were counted (events_.known)
  std::string text_;        // the query after JQ_SUBS
  bool cut_short_ = false;  // the run lost its connection before its cursor was drained
  Backoff backoff_;
  std::optional<Clock::time_point> outage_since_;
  RowQueues queues_;
  std::size_t fed_ = 0;  // rows fed in this step
  std::size_t runs_ = 0, run_rows_ = 0, run_new_ = 0, run_skipped_ = 0;
  std::size_t fed_on_connection_ = 0;   // rows in the connection's table of fed rows
  std::size_t runs_on_connection_ = 0;  // runs declared on the connection (the one under way too)
  bool run_all_fed_ = false;            // the run returned rows, all fed already
  std::vector<std::pair<std::int64_t, int>> batch_;  // a FETCH's hashes, with their rows
  std::vector<bool> repeats_;                        // the rows that repeat an earlier one
  bool rows_event_ = false, end_event_ = false, end_ok_ = false;
  std::string end_text_;
  Source connect_;
  Pending notify_{[this] { deliver_events(); }};  // notify()
};

}  // namespace sched
