// libpq's asynchronous API on the main loop: PQsendQueryParams, then PQconsumeInput and
// PQgetResult as the socket becomes readable; PQflush while it is not writable.
#include "database.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <stdexcept>

namespace sched {

QueryResult::QueryResult(pg_result* res) : res_(res, PQclear) {
  auto status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* msg = PQresultErrorMessage(res);
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    error_ = msg && *msg ? msg : PQresStatus(status);
    while (!error_.empty() && (error_.back() == '\n' || error_.back() == ' ')) error_.pop_back();
    sqlstate_ = state ? state : "";
  }
}

int QueryResult::rows() const {
  return res_ && ok() ? PQntuples(res_.get()) : 0;
}
int QueryResult::columns() const {
  return res_ && ok() ? PQnfields(res_.get()) : 0;
}
std::string QueryResult::column_name(int col) const {
  return PQfname(res_.get(), col);
}
int QueryResult::column(std::string_view name) const {
  for (int c = 0; c < columns(); ++c)
    if (name == PQfname(res_.get(), c)) return c;
  return -1;
}
bool QueryResult::is_null(int row, int col) const {
  return PQgetisnull(res_.get(), row, col) != 0;
}
std::string QueryResult::get(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(res_.get(), row, col)));
}
long QueryResult::get_long(int row, int col, long fallback) const {
  if (row >= rows() || col < 0 || is_null(row, col)) return fallback;
  std::string v = get(row, col);
  long out = fallback;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() ? out : fallback;
}
agent::protocol::Row QueryResult::row(int row, int skip_from) const {
  agent::protocol::Row out;
  int n = skip_from < 0 ? columns() : std::min(skip_from, columns());
  out.fields.reserve(static_cast<std::size_t>(n));
  for (int c = 0; c < n; ++c) {
    agent::protocol::Field f{column_name(c), std::nullopt};
    if (!is_null(row, c)) f.value = get(row, c);
    out.fields.push_back(std::move(f));
  }
  return out;
}

long QueryResult::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  return n && *n ? std::atol(n) : 0;
}

Database::Database(std::string conninfo) : conninfo_(std::move(conninfo)) {}

Database::~Database() {
  socket_watch_.reset();
  if (conn_) PQfinish(conn_);
}

void Database::connect() {
  if (conn_) PQfinish(conn_);
  conn_ = PQconnectdb(conninfo_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw std::runtime_error("cannot connect to the database: " + msg);
  }
  PQsetnonblocking(conn_, 1);
  watch_socket();
}

void Database::watch_socket() {
  want_write_ = false;
  socket_watch_ =
      Source::watch_fd(PQsocket(conn_), G_IO_IN, [this](GIOCondition c) { return on_socket(c); });
}

void Database::connect_async(std::function<void(bool, const std::string&)> done) {
  if (conn_) PQfinish(conn_);
  on_connected_ = std::move(done);
  connecting_ = true;
  conn_ = PQconnectStart(conninfo_.c_str());
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
    poll_connect(PGRES_POLLING_FAILED);
    return;
  }
  PQsetnonblocking(conn_, 1);
  poll_connect(PGRES_POLLING_WRITING);  // libpq's protocol: start as if asked to write
}

// One step of libpq's connection state machine: wait for the socket as it asks, or finish.
void Database::poll_connect(int status) {
  if (status == PGRES_POLLING_OK) {
    connecting_ = false;
    watch_socket();
    if (auto done = std::move(on_connected_)) done(true, "");
    send_next();
    return;
  }
  if (status == PGRES_POLLING_FAILED) {
    std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    connecting_ = false;
    if (auto done = std::move(on_connected_)) done(false, why);
    fail_all("cannot connect to the database: " + why);
    return;
  }
  auto cond = status == PGRES_POLLING_READING ? G_IO_IN : G_IO_OUT;
  socket_watch_ = Source::watch_fd(PQsocket(conn_), cond, [this](GIOCondition) {
    poll_connect(PQconnectPoll(conn_));
    return false;  // poll_connect set up the next watch (or the normal one)
  });
}

bool Database::connected() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

namespace {
struct ParamArrays {
  std::vector<const char*> values;
  explicit ParamArrays(const Params& params) {
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  }
};
}  // namespace

QueryResult Database::exec_blocking(const std::string& sql, const Params& params) {
  if (!conn_) return QueryResult("not connected", "08003");
  ParamArrays a(params);
  PQsetnonblocking(conn_, 0);
  PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(a.values.size()), nullptr,
                               a.values.data(), nullptr, nullptr, 0);
  PQsetnonblocking(conn_, 1);
  if (!res) return QueryResult(PQerrorMessage(conn_), "08006");
  deliver_notifications();
  return QueryResult(res);
}

void Database::query(std::string sql, Params params, ResultFn done) {
  queue_.push_back({std::move(sql), std::move(params), std::move(done)});
  if (!busy_) send_next();
}

void Database::listen(const std::string& channel, std::function<void(const std::string&)> fn) {
  listeners_.emplace_back(channel, std::move(fn));
  char* id = conn_ ? PQescapeIdentifier(conn_, channel.c_str(), channel.size()) : nullptr;
  if (id) {
    query(std::string("LISTEN ") + id, {});
    PQfreemem(id);
  }
}

std::string Database::literal(std::string_view text) const {
  char* lit = conn_ ? PQescapeLiteral(conn_, text.data(), text.size()) : nullptr;
  if (!lit) throw std::runtime_error("cannot quote a literal: no database connection");
  std::string out(lit);
  PQfreemem(lit);
  return out;
}

void Database::send_next() {
  while (!busy_ && !connecting_ && !queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (!connected()) {
      if (current_.done) current_.done(QueryResult("no database connection", "08003"));
      continue;
    }
    ParamArrays a(current_.params);
    int ok = PQsendQueryParams(conn_, current_.sql.c_str(), static_cast<int>(a.values.size()),
                               nullptr, a.values.data(), nullptr, nullptr, 0);
    if (!ok) {
      std::string err = PQerrorMessage(conn_);
      if (current_.done) current_.done(QueryResult(err, "08006"));
      continue;
    }
    busy_ = true;
    current_result_.reset();
    if (PQflush(conn_) == 1 && !want_write_) {
      want_write_ = true;
      socket_watch_ = Source::watch_fd(PQsocket(conn_), GIOCondition(G_IO_IN | G_IO_OUT),
                                       [this](GIOCondition c) { return on_socket(c); });
    }
  }
}

bool Database::on_socket(GIOCondition condition) {
  if (!conn_) return false;
  if ((condition & G_IO_OUT) && PQflush(conn_) == 0 && want_write_) {
    want_write_ = false;
    socket_watch_ =
        Source::watch_fd(PQsocket(conn_), G_IO_IN, [this](GIOCondition c) { return on_socket(c); });
  }
  if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn_);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    fail_all(why.empty() ? "connection lost" : why);
    return false;
  }
  collect_results();
  deliver_notifications();
  return true;
}

// Takes every complete result of the statement in flight; the statement is done when
// PQgetResult returns NULL. Its callback may queue more statements.
void Database::collect_results() {
  while (busy_ && !PQisBusy(conn_)) {
    PGresult* res = PQgetResult(conn_);
    if (res) {
      QueryResult r(res);
      if (!current_result_ || r.ok() == false) current_result_ = std::move(r);
      continue;
    }
    busy_ = false;
    Request done = std::move(current_);
    QueryResult result = current_result_ ? *current_result_ : QueryResult();
    current_result_.reset();
    if (done.done) done.done(result);
    send_next();
  }
}

void Database::deliver_notifications() {
  while (PGnotify* n = conn_ ? PQnotifies(conn_) : nullptr) {
    std::string channel = n->relname, payload = n->extra ? n->extra : "";
    PQfreemem(n);
    for (auto& [name, fn] : listeners_)
      if (name == channel) fn(payload);
  }
}

void Database::fail_all(const std::string& why) {
  socket_watch_ = Source();
  std::deque<Request> failed;
  if (busy_) failed.push_back(std::move(current_));
  busy_ = false;
  for (auto& r : queue_) failed.push_back(std::move(r));
  queue_.clear();
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  for (auto& r : failed)
    if (r.done) r.done(QueryResult(why, "08006"));
  if (on_broken_) on_broken_(why);
}

}  // namespace sched
