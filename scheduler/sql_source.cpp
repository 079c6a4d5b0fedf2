// SqlSource: a cursor per run on the source's own connection, fetched on demand.
#include "sql_source.hpp"

#include "agent/protocol.hpp"
#include "log.hpp"

namespace sched {

namespace {
// The statements of a run; the query itself is the step's jq_args after JQ_SUBS.
constexpr const char* kBegin = "BEGIN";
constexpr const char* kDeclare = "DECLARE jobline_feed NO SCROLL CURSOR FOR ";
constexpr const char* kFetch = "FETCH FORWARD {} FROM jobline_feed";
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

// Opens the connection (first run), then BEGIN and DECLARE; the first FETCH follows.
void SqlSource::start_run() {
  phase_ = Phase::Running;
  ++runs_;
  run_rows_ = run_new_ = run_skipped_ = 0;
  std::string text;
  try {
    if (!db_ || !db_->connected()) {
      db_ = std::make_unique<Database>(conninfo_);
      db_->connect();
    }
    text = substitute(query_, subs_, [this](std::string_view v) { return db_->literal(v); });
  } catch (const std::exception& e) {
    fail(fmt::format("query failed: {}", e.what()));
    return;
  }
  db_->query(kBegin, {});
  fetching_ = true;
  db_->query(kDeclare + text, {}, [this](const QueryResult& r) {
    fetching_ = false;
    if (!r.ok()) {
      fail("query failed: " + r.error());
      return;
    }
    maybe_fetch();
  });
}

// FETCHes while the cursor is open and the open queues run low (and not every queue is full).
void SqlSource::maybe_fetch() {
  if (phase_ != Phase::Running || fetching_ || !db_) return;
  if (queues_.waiting_in_open_queues() >= limits_.low || queues_.all_full()) return;
  fetching_ = true;
  db_->query(fmt::format(kFetch, limits_.fetch), {}, [this](const QueryResult& r) { on_fetch(r); });
}

void SqlSource::on_fetch(const QueryResult& r) {
  fetching_ = false;
  if (phase_ != Phase::Running) return;
  if (!r.ok()) {
    fail("query failed: " + r.error());
    return;
  }
  int column = r.column(column_);
  if (column < 0) {
    fail(fmt::format("query failed: its result has no column \"{}\" (jq_runonpfile)", column_));
    return;
  }
  std::size_t before = run_new_;
  for (int i = 0; i < r.rows(); ++i) accept(r, i, column);
  if (run_new_ > before) {
    rows_event_ = true;
    notify();
  }
  if (static_cast<std::size_t>(r.rows()) < limits_.fetch) {  // drained: end of this run
    db_->query(kCommit, {});
    phase_ = Phase::Draining;
    after_progress();
  } else {
    maybe_fetch();
  }
}

// One fetched row: fed once per step; skipped (for a later run) when its holder's queue is full.
void SqlSource::accept(const QueryResult& r, int row, int column) {
  ++run_rows_;
  agent::protocol::Row fields;
  fields.fields.reserve(static_cast<std::size_t>(r.columns()));
  for (int c = 0; c < r.columns(); ++c) {
    agent::protocol::Field f{r.column_name(c), std::nullopt};
    if (!r.is_null(row, c)) f.value = r.get(row, c);
    fields.fields.push_back(std::move(f));
  }
  std::string line = agent::protocol::format_row(fields);
  std::uint64_t hash = FedSet::hash(line);
  if (fed_.contains(hash)) return;
  std::optional<std::string_view> value;
  if (const auto& v = fields.fields[static_cast<std::size_t>(column)].value) value = *v;
  if (!queues_.push(router_.holder(value), std::move(line))) {
    ++run_skipped_;
    return;
  }
  fed_.insert(hash);
  ++run_new_;
}

// After an acknowledgement or the end of a cursor: fetch more, run again, or finish.
void SqlSource::after_progress() {
  if (phase_ == Phase::Running) {
    maybe_fetch();
    return;
  }
  if (phase_ != Phase::Draining || queues_.waiting() != 0 || queues_.out() != 0) return;
  if (run_new_ > 0 || run_skipped_ > 0) {
    start_run();
  } else {
    finish();
  }
}

void SqlSource::finish() {
  phase_ = Phase::Finished;
  end_event_ = true;
  end_ok_ = true;
  if (run_rows_ > 0)
    end_text_ = fmt::format(
        "run {} of the query returned {} row(s), all already fed in this step: ending the step "
        "(a query that keeps returning the same rows would loop)",
        runs_, run_rows_);
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

// Events leave from a timer of their own: the owner may destroy this source in them.
void SqlSource::notify() {
  if (notify_.active()) return;
  notify_ = Source::timer(std::chrono::milliseconds(0), [this] {
    bool rows = std::exchange(rows_event_, false);
    bool end = std::exchange(end_event_, false);
    if (rows && events_.rows) {
      events_.rows();
    }
    if (end && events_.end) events_.end(end_ok_, end_text_);  // may destroy *this
  });
}

}  // namespace sched
