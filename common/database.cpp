// libpq's asynchronous API on the main loop: PQsendQueryParams, then PQconsumeInput and
// PQgetResult as the socket becomes readable; PQflush while it is not writable.
#include "database.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "log.hpp"

namespace sched {

Database::Database(std::string conninfo)
    : conninfo_(std::move(conninfo)), group_end_([this] { close_group(); }) {}

Database::~Database() {
  retry_.reset();
  socket_watch_.reset();
  if (conn_) PQfinish(conn_);
}

namespace {

// libpq's message without its trailing newline.
std::string message_of(const pg_conn* conn) {
  std::string msg = conn ? PQerrorMessage(conn) : "out of memory";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// "host=/run/postgresql port=5432 dbname=jobline": where libpq connects (after the
// environment and defaults), for messages.
std::string describe(const pg_conn* conn) {
  auto text = [](const char* v) { return std::string(v && *v ? v : "?"); };
  if (!conn) return "?";
  return "host=" + text(PQhost(conn)) + " port=" + text(PQport(conn)) +
         " dbname=" + text(PQdb(conn));
}

struct ParamArrays {
  std::vector<const char*> values;
  explicit ParamArrays(const Params& params) {
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  }
};

}  // namespace

std::string Database::conninfo_error() const {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo_.c_str(), &error);
  if (options) {
    PQconninfoFree(options);
    return "";
  }
  std::string out = error ? error : "out of memory";
  PQfreemem(error);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void Database::watch_socket() {
  want_write_ = false;
  socket_watch_ =
      Source::watch_fd(PQsocket(conn_), G_IO_IN, [this](GIOCondition c) { return on_socket(c); });
}

void Database::connect_async(std::function<void(bool, const std::string&)> done) {
  retry_.reset();
  socket_watch_.reset();
  if (conn_) PQfinish(conn_);
  on_connected_ = std::move(done);
  connecting_ = true;
  conn_ = PQconnectStart(conninfo_.c_str());
  if (conn_) {
    target_ = describe(conn_);
    server_fatal_.clear();
    PQsetNoticeProcessor(conn_, &Database::on_notice, this);
  }
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
    poll_connect(PGRES_POLLING_FAILED);
    return;
  }
  PQsetnonblocking(conn_, 1);
  poll_connect(PGRES_POLLING_WRITING);  // libpq's protocol: start as if asked to write
}

void Database::keep_connected(ConnectionEvents events, Backoff backoff) {
  if (!keep_) backoff_ = backoff;
  keep_ = true;
  events_ = std::move(events);
}

void Database::close() {
  keep_ = false;
  retry_.reset();
  socket_watch_.reset();
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  connecting_ = false;
  pipelined_ = false;
  inflight_.clear();
  complete_ = 0;
  queue_.clear();
  open_group_ = 0;
  group_end_.cancel();
  on_connected_ = nullptr;
}

// One step of libpq's connection state machine: wait for the socket as it asks, or finish.
void Database::poll_connect(int status) {
  if (status == PGRES_POLLING_OK) {
    on_connected();
    return;
  }
  if (status == PGRES_POLLING_FAILED) {
    std::string why = message_of(conn_);
    connecting_ = false;
    if (auto done = std::move(on_connected_)) done(false, why);
    lose(keep_ ? why : "cannot connect to the database: " + why);
    return;
  }
  auto cond = status == PGRES_POLLING_READING ? G_IO_IN : G_IO_OUT;
  socket_watch_ = Source::watch_fd(PQsocket(conn_), cond, [this](GIOCondition) {
    poll_connect(PQconnectPoll(conn_));
    return false;  // poll_connect set up the next watch (or the normal one)
  });
}

void Database::on_connected() {
  connecting_ = false;
  pipelined_ = depth_ > 1 && PQenterPipelineMode(conn_) == 1;
  prepared_now_.assign(prepared_sql_.size(), Prepared::kNo);
  watch_socket();
  backoff_.reset();
  start_session();  // first in the queue, whatever the callbacks below add
  if (auto done = std::move(on_connected_)) done(true, "");
  auto since = std::exchange(outage_since_, std::nullopt);
  if (keep_ && events_.up) events_.up(since ? Clock::now() - *since : Clock::duration::zero());
  send_next();
}

// The session statements go first, ahead of everything that waited: on_reconnect's (the
// scheduler's lock), then LISTEN for every channel.
void Database::start_session() {
  std::vector<Request> first;
  for (const auto& [sql, check] : on_reconnect_) first.push_back({sql, {}, check, "", true});
  for (const auto& [channel, fn] : listeners_) {
    char* id = PQescapeIdentifier(conn_, channel.c_str(), channel.size());
    if (!id) continue;
    first.push_back({std::string("LISTEN ") + id, {}, {}, "", true});
    PQfreemem(id);
  }
  queue_.insert(queue_.begin(), std::make_move_iterator(first.begin()),
                std::make_move_iterator(first.end()));
}

bool Database::connected() const {
  return conn_ && !connecting_ && PQstatus(conn_) == CONNECTION_OK;
}

QueryResult Database::exec_blocking(const std::string& sql, const Params& params) {
  if (!connected()) return QueryResult("not connected", "08003");
  if (!inflight_.empty()) return QueryResult("statements in flight", "55000");
  ParamArrays a(params);
  if (pipelined_) PQexitPipelineMode(conn_);
  PQsetnonblocking(conn_, 0);
  PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(a.values.size()), nullptr,
                               a.values.data(), nullptr, nullptr, 0);
  PQsetnonblocking(conn_, 1);
  if (pipelined_) PQenterPipelineMode(conn_);
  if (!res) return QueryResult(message_of(conn_), "08006");
  deliver_notifications();
  return QueryResult(res);
}

void Database::query(std::string sql, Params params, ResultFn done) {
  push({std::move(sql), std::move(params), std::move(done)});
}

void Database::push(Request r) {
  open_group_ = 0;  // the writes before it go first, as a group of their own
  queue_.push_back(std::move(r));
  send_next();
}

void Database::write(std::string sql, Params params, ResultFn done) {
  push_write({std::move(sql), std::move(params), std::move(done)});
}

void Database::write_latest(std::string key, std::string sql, Params params) {
  auto same = std::find_if(queue_.begin(), queue_.end(), [&](const Request& r) {
    return !key.empty() && !r.session && r.key == key;
  });
  if (same != queue_.end()) {
    auto at = static_cast<std::size_t>(same - queue_.begin());
    if (at + open_group_ >= queue_.size()) --open_group_;
    // The last of its group: the sync point moves to the one before it.
    if (same->sync && at > 0 && !queue_[at - 1].sync) queue_[at - 1].sync = true;
    queue_.erase(same);
  }
  push_write({std::move(sql), std::move(params), {}, std::move(key)});
}

// Joins the group open at the tail of the queue (or opens one), which waits for the end of
// this pass of the loop, or until it holds as many statements as may be in flight.
void Database::push_write(Request r) {
  if (depth_ <= 1) {
    push(std::move(r));
    return;
  }
  if (open_group_ > 0) queue_.back().sync = false;
  queue_.push_back(std::move(r));
  if (++open_group_ >= depth_)
    close_group();
  else
    group_end_.request();
}

void Database::close_group() {
  open_group_ = 0;
  send_next();
}

// The statements of the transaction at the head of `q`: up to its sync point.
std::size_t Database::transaction_size(const std::deque<Request>& q) {
  std::size_t n = 0;
  while (n + 1 < q.size() && !q[n].sync) ++n;
  return n + 1;
}

void Database::listen(const std::string& channel, std::function<void(const std::string&)> fn) {
  listeners_.emplace_back(channel, std::move(fn));
  char* id = connected() ? PQescapeIdentifier(conn_, channel.c_str(), channel.size()) : nullptr;
  if (id) {
    query(std::string("LISTEN ") + id, {});
    PQfreemem(id);
  }
}

void Database::on_reconnect(std::string sql, ResultFn check) {
  on_reconnect_.emplace_back(std::move(sql), std::move(check));
}

std::string Database::literal(std::string_view text) const {
  char* lit = conn_ ? PQescapeLiteral(conn_, text.data(), text.size()) : nullptr;
  if (!lit) throw std::runtime_error("cannot quote a literal: no database connection");
  std::string out(lit);
  PQfreemem(lit);
  return out;
}

// Sends the transaction at the head of the queue (one statement, or a group of writes with
// their sync point) while it fits in the depth_ statements that may be in flight; a group
// still open to this pass's writes waits. Not connected: a kept connection's statements
// wait; the others fail.
void Database::send_next() {
  while (!connecting_ && !queue_.empty()) {
    std::size_t depth = pipelined_ ? depth_ : 1;
    if (inflight_.size() >= depth) return;
    if (!connected()) {
      if (keep_ || !inflight_.empty()) return;
      Request r = std::move(queue_.front());
      queue_.pop_front();
      if (r.done) r.done(QueryResult("no database connection", "08003"));
      continue;
    }
    if (queue_.size() <= open_group_) return;
    std::size_t n = pipelined_ ? transaction_size(queue_) : 1;
    if (!inflight_.empty() && inflight_.size() + n > depth) return;
    std::vector<Request> refused;
    bool sent = false;
    for (std::size_t i = 0; i < n; ++i) {
      Request r = std::move(queue_.front());
      queue_.pop_front();
      if (send(r)) {
        inflight_.push_back(std::move(r));
        sent = true;
      } else if (PQstatus(conn_) == CONNECTION_BAD) {
        for (auto& f : refused) inflight_.push_back(std::move(f));
        inflight_.push_back(std::move(r));  // lose() puts them back (kept) or fails them
        lose(message_of(conn_));
        return;
      } else {
        refused.push_back(std::move(r));
      }
    }
    if (sent) inflight_.back().sync = true;  // the last sent, should the last be refused
    if (sent && pipelined_ && !PQpipelineSync(conn_)) {
      for (auto& f : refused) inflight_.push_back(std::move(f));
      lose(message_of(conn_));
      return;
    }
    std::string why = refused.empty() ? "" : message_of(conn_);
    for (auto& r : refused)
      if (r.done) r.done(QueryResult(why, "08006"));
    if (!conn_ || !sent) continue;  // (a callback may have closed it)
    if (PQflush(conn_) == 1 && !want_write_) {
      want_write_ = true;
      socket_watch_ = Source::watch_fd(PQsocket(conn_), GIOCondition(G_IO_IN | G_IO_OUT),
                                       [this](GIOCondition c) { return on_socket(c); });
    }
  }
}

// Sends one statement without its sync point. A prepared one (prepare()) is made on this
// connection with its first use, in the same pipeline; while that prepare is in flight, other
// uses go as they are (should it fail, nothing behind it depends on it). False when libpq
// refused.
bool Database::send(Request& r) {
  r.prepares = -1;
  r.results = 0;
  r.ends = 0;
  r.result.reset();
  ParamArrays a(r.params);
  int n = static_cast<int>(a.values.size());
  auto named = pipelined_ ? std::find(prepared_sql_.begin(), prepared_sql_.end(), r.sql)
                          : prepared_sql_.end();
  auto i = static_cast<std::size_t>(named - prepared_sql_.begin());
  if (named == prepared_sql_.end() || prepared_now_[i] == Prepared::kPreparing)
    return PQsendQueryParams(conn_, r.sql.c_str(), n, nullptr, a.values.data(), nullptr, nullptr,
                             0) == 1;
  std::string name = "jobline_" + std::to_string(i);
  if (prepared_now_[i] == Prepared::kNo) {
    if (PQsendPrepare(conn_, name.c_str(), r.sql.c_str(), 0, nullptr) != 1) return false;
    prepared_now_[i] = Prepared::kPreparing;
    r.prepares = static_cast<int>(i);
  }
  return PQsendQueryPrepared(conn_, name.c_str(), n, a.values.data(), nullptr, nullptr, 0) == 1;
}

void Database::prepare(std::string sql) {
  if (std::find(prepared_sql_.begin(), prepared_sql_.end(), sql) != prepared_sql_.end()) return;
  prepared_sql_.push_back(std::move(sql));
  prepared_now_.push_back(Prepared::kNo);
}

bool Database::on_socket(GIOCondition condition) {
  if (!conn_) return false;
  if ((condition & G_IO_OUT) && PQflush(conn_) == 0 && want_write_) {
    want_write_ = false;
    socket_watch_ =
        Source::watch_fd(PQsocket(conn_), G_IO_IN, [this](GIOCondition c) { return on_socket(c); });
  }
  if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = message_of(conn_);
    lose(why.empty() ? "connection lost" : why);
    return false;
  }
  collect_results();
  deliver_notifications();
  return conn_ != nullptr;
}

// Takes every complete result of the statements in flight, in order. One at a time, a
// statement is done when PQgetResult returns NULL. In pipeline mode each command's results end
// with a NULL (a statement is one command, or two with its prepare first), and the statements
// of one transaction are done at its sync point. Their callbacks may queue more statements (or
// close).
void Database::collect_results() {
  bool commit_failed = false;  // an error at commit was read, its end not yet
  while (!inflight_.empty() && conn_ && !PQisBusy(conn_)) {
    if (PQstatus(conn_) != CONNECTION_OK) {  // libpq's "result" would be the lost connection
      lose(message_of(conn_));
      return;
    }
    PGresult* res = PQgetResult(conn_);
    if (!pipelined_) {
      if (res)
        take_result(res);
      else
        finish_transaction();
      continue;
    }
    if (res && PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      finish_transaction();
      continue;
    }
    if (complete_ >= head_transaction()) {  // only the sync point is due
      if (!res) {
        if (!std::exchange(commit_failed, false)) break;  // (the end of that error's results)
        continue;
      }
      // An error here is the commit's (a deferred constraint, say): the transaction's.
      QueryResult r(res);
      Request& last = inflight_[complete_ - 1];
      if (!r.ok() && (!last.result || last.result->ok())) last.result = std::move(r);
      commit_failed = true;
      continue;
    }
    if (res) {
      take_result(res);
      continue;
    }
    Request& r = inflight_[complete_];
    if (r.ends == r.results) break;  // no result since the last end: the next has not arrived
    if (++r.ends == (r.prepares >= 0 ? 2 : 1)) ++complete_;
  }
}

// A result of the statement being read.
void Database::take_result(pg_result* res) {
  QueryResult r(res);
  Request& head = inflight_[complete_];
  // The prepare's answer comes first. One that failed (the pipeline then aborts the
  // statement behind it) is made again with the next use, which gets the same error.
  if (head.results++ == 0 && head.prepares >= 0)
    prepared_now_[static_cast<std::size_t>(head.prepares)] =
        r.ok() ? Prepared::kYes : Prepared::kNo;
  // The statement's own result (a prepare's comes first), unless an earlier one failed.
  if (!head.result || head.result->ok()) head.result = std::move(r);
}

// The transaction at the head of the statements in flight is done (its sync point, or the
// end of a statement sent alone). Its callbacks get their results, in order. A group of
// writes in which one failed was rolled back: each is sent again on its own. A statement
// aborted by a conflict on a kept connection is sent again.
void Database::finish_transaction() {
  std::size_t n = pipelined_ ? head_transaction() : 1;
  complete_ = 0;
  std::vector<Request> done;
  for (std::size_t i = 0; i < n; ++i) {
    done.push_back(std::move(inflight_.front()));
    inflight_.pop_front();
  }
  auto failed = [](const Request& r) { return r.result && !r.result->ok(); };
  if (auto first = std::find_if(done.begin(), done.end(), failed); n > 1 && first != done.end()) {
    log::debug("database: a group of {} writes rolled back ({}); sending each on its own", n,
               first->result->error());
    for (auto r = done.rbegin(); r != done.rend(); ++r) {
      r->sync = true;
      queue_.push_front(std::move(*r));
    }
    send_next();
    return;
  }
  Request& head = done.front();
  if (n == 1 && keep_ && !head.session && failed(head) && head.result->conflict() &&
      head.conflicts < kConflictRetries) {
    ++head.conflicts;
    log::warning("database statement aborted by PostgreSQL ({}); sending it again ({} of {})",
                 head.result->error(), head.conflicts, kConflictRetries);
    queue_.push_front(std::move(head));
    send_next();
    return;
  }
  for (auto& r : done)
    if (r.done) r.done(r.result ? *r.result : QueryResult());
  send_next();
}

void Database::deliver_notifications() {
  while (PGnotify* n = conn_ ? PQnotifies(conn_) : nullptr) {
    std::string channel = n->relname, payload = n->extra ? n->extra : "";
    PQfreemem(n);
    for (auto& [name, fn] : listeners_)
      if (name == channel) fn(payload);
  }
}

// libpq's notices (and errors that arrive between statements, such as the server's "FATAL:
// terminating connection due to administrator command" before it closes the connection): not
// printed on stderr as libpq would; a FATAL is kept for the reason of the loss.
void Database::on_notice(void* self, const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.rfind("FATAL:", 0) == 0) static_cast<Database*>(self)->server_fatal_ = text;
  log::debug("database {}: {}", static_cast<Database*>(self)->target_, text);
}

// The connection is gone (or an attempt failed). Kept: the statement in flight goes back to
// the head of the queue (session statements are made again for the next connection), the
// outage is reported once, and the next attempt is timed by the back-off. Else: fail_all.
void Database::lose(const std::string& reason) {
  std::string why = server_fatal_.empty() ? reason : server_fatal_ + " (" + reason + ")";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  for (auto at = why.find('\n'); at != std::string::npos; at = why.find('\n', at)) {
    auto end = why.find_first_not_of(" \t\n", at);  // libpq's lines, as one
    why.replace(at, end == std::string::npos ? std::string::npos : end - at, "; ");
  }
  server_fatal_.clear();
  socket_watch_.reset();
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  connecting_ = false;
  pipelined_ = false;
  last_error_ = why;
  if (!keep_) {
    fail_all(why);
    return;
  }
  // The statements in flight go back to the head of the queue, in order.
  for (auto r = inflight_.rbegin(); r != inflight_.rend(); ++r)
    if (!r->session) queue_.push_front(std::move(*r));
  inflight_.clear();
  complete_ = 0;
  std::erase_if(queue_, [](const Request& r) { return r.session; });
  retry_ = Source::timer(backoff_.next(), [this] { connect_async(); });
  if (!outage_since_) {
    outage_since_ = Clock::now();
    if (events_.lost) events_.lost(why);
  }
}

void Database::fail_all(const std::string& why) {
  std::deque<Request> failed = std::move(inflight_);
  inflight_.clear();
  complete_ = 0;
  for (auto& r : queue_) failed.push_back(std::move(r));
  queue_.clear();
  open_group_ = 0;
  for (auto& r : failed)
    if (r.done) r.done(QueryResult(why, "08006"));
  if (on_broken_) on_broken_(why);
}

}  // namespace sched
