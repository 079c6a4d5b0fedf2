// SqlSource: a cursor per run on the source's own connection, fetched on demand. The rows
// already fed live in a temporary table of that connection, not in the scheduler's memory; a
// lost connection cuts the run short and the next run is on a new connection.
#include "sql_source.hpp"

#include <algorithm>
#include <charconv>

#include "log.hpp"

namespace sched {

namespace {
// The fed rows: 64-bit hashes of their text form, for the life of the step's connection. The
// session's temporary buffers are raised first (they must be, before its first temporary
// table): with the default 8 MB a million hashes spill and every insert waits on the disk.
// The table has no index while the first runs fill it (an index built once is much cheaper
// than a million random insertions). It is analyzed before each re-run, so that the planner
// knows its size, and indexed only before the second re-run: building the index costs about
// three times what hashing the table once for the anti-join does (1,000,000 rows: ~580 against
// ~200 ms), so it pays only for a query that runs several times, such as a LIMIT query that
// returns its next rows each run, where the anti-join then looks its few rows up in the index.
// The usual query returns all its rows in its first run and ends with its first re-run.
constexpr const char* kTempBuffers = "SET temp_buffers = '128MB'";
constexpr const char* kCreateFed = "CREATE TEMP TABLE IF NOT EXISTS jobline_fed (h bigint)";
constexpr const char* kIndexFed =
    "CREATE INDEX IF NOT EXISTS jobline_fed_h ON pg_temp.jobline_fed (h)";
constexpr const char* kAnalyzeFed = "ANALYZE pg_temp.jobline_fed";
// The statements of a run; {} is the step's jq_args after JQ_SUBS. The cursor yields only the
// rows not fed yet (the check is the server's: rows fed already are never sent), each with
// one more column, its hash, dropped before it is fed. REPEATABLE READ: the probe below sees
// the cursor's snapshot. OFFSET 0 keeps the planner from pulling the query up into the
// anti-join: pulled up, each of its expressions was evaluated again wherever the row was used
// (its text for the hash, once for the hash key and again for each match's check, then its
// columns for the output). Fenced, each row is computed once. (A query with DISTINCT, GROUP
// BY, ORDER BY or LIMIT is never pulled up: for it the fence changes nothing. The hash itself is
// still computed where it is used: fencing it as well kept the planner from ever looking the
// rows up in the table's index.)
constexpr const char* kCheck = "PREPARE jobline_check AS ";
constexpr const char* kUncheck = "DEALLOCATE jobline_check";
constexpr const char* kBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ";
constexpr const char* kDeclare = R"(DECLARE jobline_feed NO SCROLL CURSOR FOR
SELECT jobline_q.*, h.h AS jobline_hash
  FROM (SELECT * FROM ({}) jobline_u OFFSET 0) jobline_q
 CROSS JOIN LATERAL (SELECT hashtextextended(jobline_q::text, 0) AS h) h
 WHERE NOT EXISTS (SELECT 1 FROM jobline_fed f WHERE f.h = h.h))";
constexpr const char* kFetch = "FETCH FORWARD {} FROM jobline_feed";
// Once per step, after its first FETCH, in the run's transaction: the rows to do, for
// progress. Queued behind the second FETCH, so the agents have rows while it runs.
constexpr const char* kCount = "SELECT count(*) FROM ({}) jobline_q";
// A run that found no new row on a connection that fed rows: did the query return rows at
// all (all fed already: the step ends with a warning) or none (it ends quietly)? Stops at the
// first row.
constexpr const char* kProbe = "SELECT EXISTS (SELECT 1 FROM ({}) jobline_q)";
constexpr const char* kRemember = "INSERT INTO jobline_fed SELECT unnest($1::bigint[])";
constexpr const char* kCommit = "COMMIT";
}  // namespace

SqlSource::SqlSource(std::string conninfo, std::string query, std::string column, Router router,
                     SqlSourceEvents events, SqlSourceLimits limits)
    : conninfo_(std::move(conninfo)),
      query_(std::move(query)),
      column_(std::move(column)),
      router_(std::move(router)),
      events_(std::move(events)),
      limits_(limits),
      queues_(limits.queue_cap) {}

SqlSource::~SqlSource() = default;

std::optional<Item> SqlSource::take(const std::string& host) {
  if (phase_ == Phase::NotStarted) start_run();
  if (phase_ == Phase::Failed) return std::nullopt;
  auto item = queues_.take(host);
  if (item) maybe_fetch();
  return item;
}

void SqlSource::done(const Item& item) {
  queues_.done(item);
  after_progress();
}

void SqlSource::give_back(Item item) {
  queues_.give_back(std::move(item));
  rows_event_ = true;
  notify();
}

bool SqlSource::finished() const {
  return phase_ == Phase::Failed ||
         (phase_ == Phase::Finished && queues_.waiting() == 0 && queues_.out() == 0);
}

std::size_t SqlSource::available(const std::string& host) const {
  if (phase_ == Phase::NotStarted) return 1;  // one agent, to run the query when it is ready
  if (phase_ == Phase::Failed) return 0;
  return queues_.available(host);
}

bool SqlSource::routed() const {
  return phase_ != Phase::NotStarted && router_.routes();
}

// A run: BEGIN and DECLARE on the connection (made first if there is none); the first FETCH
// follows.
void SqlSource::start_run() {
  run_rows_ = run_new_ = run_skipped_ = 0;
  run_all_fed_ = false;
  cut_short_ = false;
  fetching_ = true;  // until the DECLARE answers
  if (db_ && db_->connected()) {
    phase_ = Phase::Running;
    declare();
    return;
  }
  // From a timer: this may run inside a callback of the connection it replaces. After a loss,
  // the attempts are spaced by the back-off.
  phase_ = Phase::Connecting;
  auto delay = outage_since_ ? backoff_.next() : std::chrono::milliseconds(0);
  connect_ = Source::timer(delay, [this] { connect(); });
}

// Opens the connection without blocking the loop; its temporary table of fed rows starts
// empty. A failed attempt breaks it (on_broken → lost → the next attempt).
void SqlSource::connect() {
  db_ = std::make_unique<Database>(conninfo_);
  db_->pipeline(8);  // a FETCH and the previous batch's bookkeeping go out together
  db_->on_broken([this](const std::string& why) { lost(why); });
  db_->connect_async([this](bool ok, const std::string&) {
    if (!ok) return;
    phase_ = Phase::Running;
    if (outage_since_) {
      auto away = std::chrono::duration<double>(Clock::now() - *outage_since_).count();
      if (events_.warning)
        events_.warning(fmt::format(
            "feed connection back after {:.1f} s: the query runs again (rows fed before the "
            "loss may be fed again)",
            away));
      outage_since_.reset();
    }
    backoff_.reset();
    fed_on_connection_ = 0;
    runs_on_connection_ = 0;
    db_->query(kTempBuffers, {});
    db_->query(kCreateFed, {}, [this](const QueryResult& r) {
      if (!r.ok()) failed(r, "cannot create the table of fed rows: ");
    });
    declare();
  });
}

void SqlSource::declare() {
  ++runs_;
  ++runs_on_connection_;
  std::string text;
  try {
    text = substitute(query_, subs_, [this](std::string_view v) { return db_->literal(v); });
  } catch (const std::exception& e) {
    fail(fmt::format("query failed: {}", e.what()));
    return;
  }
  // The query as written is checked first, so that PostgreSQL's errors point into it rather
  // than into the statement that wraps it.
  text_ = text;
  db_->query(kCheck + text, {}, [this, text](const QueryResult& check) {
    if (!check.ok()) {
      fetching_ = false;
      failed(check, "");
      return;
    }
    db_->query(kUncheck, {});
    if (fed_on_connection_ > 0) {  // a re-run
      if (runs_on_connection_ > 2) db_->query(kIndexFed, {});
      db_->query(kAnalyzeFed, {});
    }
    db_->query(kBegin, {});
    db_->query(fmt::format(kDeclare, text), {}, [this](const QueryResult& r) {
      fetching_ = false;
      if (!r.ok()) {
        failed(r, "");
        return;
      }
      maybe_fetch();
    });
  });
}

// The connection is gone, and the cursor and the table of fed rows with it (reported once per
// outage). A run under way is cut short: the rows already fetched go on; once they are done
// the query runs again on a new connection (after_progress → start_run).
void SqlSource::lost(const std::string& why) {
  if (phase_ == Phase::Finished || phase_ == Phase::Failed) return;
  if (!outage_since_) {
    outage_since_ = Clock::now();
    if (events_.warning)
      events_.warning(fmt::format(
          "feed connection lost: {}; the rows already fetched are fed, then the query runs "
          "again on a new connection",
          why));
  }
  if (phase_ == Phase::Connecting) {
    // This attempt failed (or an older connection reports its end while one is due).
    if (!connect_.active()) connect_ = Source::timer(backoff_.next(), [this] { connect(); });
    return;
  }
  fetching_ = false;
  if (phase_ == Phase::Running) {
    cut_short_ = true;
    phase_ = Phase::Draining;
    after_progress();
  }
}

// A statement failed: its connection is gone (the run is cut short) or the query is wrong
// (the step fails with PostgreSQL's message).
void SqlSource::failed(const QueryResult& r, std::string_view what) {
  if (r.connection_lost() || !db_->connected())
    lost(r.error());
  else
    fail(fmt::format("query failed: {}{}", what, r.error()));
}

// FETCHes while the cursor is open and the open queues run low (and not every queue is full).
void SqlSource::maybe_fetch(std::size_t incoming) {
  if (phase_ != Phase::Running || fetching_ || !db_) return;
  if (queues_.waiting_in_open_queues() + incoming >= limits_.low || queues_.all_full()) return;
  fetching_ = true;
  db_->query(fmt::format(kFetch, limits_.fetch), {}, [this](const QueryResult& r) { on_fetch(r); });
}

void SqlSource::on_fetch(const QueryResult& r) {
  fetching_ = false;
  if (phase_ != Phase::Running) return;
  if (!r.ok()) {
    failed(r, "");
    return;
  }
  int column = r.column(column_);
  int hash_column = r.columns() - 1;  // ours, last: not the step's
  if (column < 0 || column == hash_column) {
    fail(fmt::format("query failed: its result has no column \"{}\" (jq_runonpfile)", column_));
    return;
  }
  // The next FETCH goes out first, so that the server fetches while this batch is queued and
  // fed; this batch's bookkeeping follows it (the cursor does not see it anyway, and the next
  // run is declared after it on this connection).
  bool drained = static_cast<std::size_t>(r.rows()) < limits_.fetch;
  if (!drained) maybe_fetch(static_cast<std::size_t>(r.rows()));
  std::size_t before = run_new_;
  // Identical rows within one FETCH are fed once: the batch's hashes sorted (with their rows'
  // numbers, so the first of equal ones comes first), each row whose hash repeats the one
  // before is marked.
  const int rows = r.rows();
  batch_.clear();
  for (int i = 0; i < rows; ++i) {
    const std::string_view hash = r.value(i, hash_column).value_or("");
    std::int64_t h = 0;
    std::from_chars(hash.data(), hash.data() + hash.size(), h);
    batch_.emplace_back(h, i);
  }
  std::sort(batch_.begin(), batch_.end());
  repeats_.assign(static_cast<std::size_t>(rows), false);
  for (std::size_t k = 1; k < batch_.size(); ++k)
    if (batch_[k].first == batch_[k - 1].first)
      repeats_[static_cast<std::size_t>(batch_[k].second)] = true;
  std::string fed = "{";
  for (int i = 0; i < rows; ++i) {
    ++run_rows_;
    if (repeats_[static_cast<std::size_t>(i)] || !accept(r, i, column)) continue;
    if (fed.size() > 1) fed += ',';
    fed += r.value(i, hash_column).value_or("");
  }
  if (!drained) maybe_fetch();  // if the queues had no room for it before
  if (run_new_ > before) {
    fed_on_connection_ += run_new_ - before;
    db_->query(kRemember, {fed + "}"}, [this](const QueryResult& res) {
      if (!res.ok()) failed(res, "cannot record the fed rows: ");
    });
    rows_event_ = true;
    notify();
  }
  if (!counted_) count(drained);
  if (drained) end_cursor();
}

// The cursor is drained. A run that found no new row on a connection that has fed rows asks,
// in the cursor's snapshot, whether the query returned any row at all: if so they were all fed
// already and the step ends with a warning (finish).
void SqlSource::end_cursor() {
  if (run_new_ > 0 || run_skipped_ > 0 || fed_on_connection_ == 0) {
    close_run();
    return;
  }
  fetching_ = true;
  db_->query(fmt::format(kProbe, text_), {}, [this](const QueryResult& r) {
    fetching_ = false;
    if (phase_ != Phase::Running) return;
    if (!r.ok()) {
      failed(r, "");
      return;
    }
    run_all_fed_ = r.rows() == 1 && r.get(0, 0) == "t";
    close_run();
  });
}

void SqlSource::close_run() {
  db_->query(kCommit, {});
  phase_ = Phase::Draining;
  after_progress();
}

// The rows the step has to do, once: known at once when the first FETCH drained the cursor,
// else counted by the query itself (behind the next FETCH). A count that fails fails the step
// with its reason (it also aborts the run's transaction).
void SqlSource::count(bool drained) {
  counted_ = true;
  if (!events_.known) return;
  if (drained) {
    events_.known(run_rows_);
    return;
  }
  db_->query(fmt::format(kCount, text_), {}, [this](const QueryResult& r) {
    if (!r.ok()) {
      if (phase_ == Phase::Running) failed(r, "");
      return;
    }
    if (r.rows() == 1 && events_.known)
      events_.known(static_cast<std::size_t>(std::stoull(r.get(0, 0))));
  });
}

// A fetched row not fed yet: queued for its holder, or skipped (for a later run) when that
// queue is full. Returns whether it was queued.
bool SqlSource::accept(const QueryResult& r, int row, int column) {
  const std::string& holder = router_.holder(r.value(row, column));
  if (!queues_.push(holder, r.row_line(row, r.columns() - 1))) {
    ++run_skipped_;
    return false;
  }
  ++run_new_;
  ++fed_;
  return true;
}

// After an acknowledgement or the end of a cursor: fetch more, run again, or finish.
void SqlSource::after_progress() {
  if (phase_ == Phase::Running) {
    maybe_fetch();
    return;
  }
  if (phase_ != Phase::Draining || queues_.waiting() != 0 || queues_.out() != 0) return;
  if (run_new_ > 0 || run_skipped_ > 0 || cut_short_) {
    start_run();
  } else {
    finish();
  }
}

void SqlSource::finish() {
  phase_ = Phase::Finished;
  end_event_ = true;
  end_ok_ = true;
  if (run_all_fed_)
    end_text_ = fmt::format(
        "run {} of the query returned row(s), all already fed in this step: ending the step "
        "(a query that keeps returning the same rows would loop)",
        runs_);
  notify();
}

void SqlSource::fail(const std::string& message) {
  if (phase_ == Phase::Failed) return;
  phase_ = Phase::Failed;
  end_event_ = true;
  end_ok_ = false;
  end_text_ = message;
  notify();
}

// Events leave from the loop's pending work, never from inside the call that caused them: the
// owner may destroy this source in them.
void SqlSource::notify() {
  notify_.request();
}

void SqlSource::deliver_events() {
  bool rows = std::exchange(rows_event_, false);
  bool end = std::exchange(end_event_, false);
  if (rows && events_.rows) {
    events_.rows();
  }
  if (end && events_.end) events_.end(end_ok_, end_text_);  // may destroy *this
}

}  // namespace sched
