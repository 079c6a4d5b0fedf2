// Database: the scheduler's PostgreSQL connection, driven by the main loop through libpq's
// asynchronous API so that no query ever stalls agent traffic. Queries are queued and sent one
// at a time in FIFO order (so their effects are ordered); results arrive as callbacks on the
// loop. LISTEN notifications arrive on the same socket. Owned by the Scheduler.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocol.hpp"
#include "event_loop.hpp"

struct pg_conn;
struct pg_result;

namespace sched {

// A query's outcome: rows as text (NULL as nullopt), or an error with its SQLSTATE.
class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(pg_result* res);  // takes ownership
  QueryResult(std::string error, std::string sqlstate)
      : error_(std::move(error)), sqlstate_(std::move(sqlstate)) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& sqlstate() const { return sqlstate_; }
  int rows() const;
  int columns() const;
  std::string column_name(int col) const;
  int column(std::string_view name) const;  // -1 when absent
  bool is_null(int row, int col) const;
  std::string get(int row, int col) const;
  long get_long(int row, int col, long fallback = 0) const;
  // Row `row` with its column names (NULL as nullopt), e.g. for a row line (SPEC §2.4);
  // columns from `skip_from` on are left out.
  agent::protocol::Row row(int row, int skip_from = -1) const;
  long affected() const;  // rows touched by UPDATE/INSERT/DELETE

 private:
  std::shared_ptr<pg_result> res_;
  std::string error_, sqlstate_;
};

using Params = std::vector<std::optional<std::string>>;
using ResultFn = std::function<void(const QueryResult&)>;

class Database {
 public:
  explicit Database(std::string conninfo);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Connects (blocking, at startup only); throws std::runtime_error with libpq's message.
  void connect();
  // Connects without blocking the loop (PQconnectStart/PQconnectPoll on the socket).
  // Statements queued meanwhile are sent once connected, or fail with libpq's message;
  // `done(ok, error)` (optional) runs first.
  void connect_async(std::function<void(bool ok, const std::string& error)> done = {});
  bool connected() const;
  bool usable() const { return connecting_ || connected(); }  // connected or on its way
  // Runs one statement now, blocking; only before the loop runs (startup, --init-db, locks).
  QueryResult exec_blocking(const std::string& sql, const Params& params = {});

  // Queues a statement; `done` (optional) gets its result on the loop.
  void query(std::string sql, Params params, ResultFn done = {});
  // LISTEN on `channel`; `fn(payload)` for each notification.
  void listen(const std::string& channel, std::function<void(const std::string&)> fn);
  // Called when the connection breaks (after the failed queries got their errors).
  void on_broken(std::function<void(const std::string&)> fn) { on_broken_ = std::move(fn); }
  // Statements queued or in flight.
  std::size_t pending() const { return queue_.size() + (busy_ ? 1u : 0u); }
  // The conninfo it connects with (for further connections to the same database).
  const std::string& conninfo() const { return conninfo_; }
  // Escapes a string as an SQL literal with the connection's rules ('...' or E'...').
  std::string literal(std::string_view text) const;

 private:
  struct Request {
    std::string sql;
    Params params;
    ResultFn done;
  };
  void send_next();
  bool on_socket(GIOCondition condition);
  void collect_results();
  void deliver_notifications();
  void fail_all(const std::string& why);
  void poll_connect(int status);
  void watch_socket();

  std::string conninfo_;
  pg_conn* conn_ = nullptr;
  std::deque<Request> queue_;
  bool busy_ = false;
  Request current_;
  std::optional<QueryResult> current_result_;
  std::vector<std::pair<std::string, std::function<void(const std::string&)>>> listeners_;
  std::function<void(const std::string&)> on_broken_;
  Source socket_watch_;
  bool want_write_ = false;
  bool connecting_ = false;
  std::function<void(bool, const std::string&)> on_connected_;
};

}  // namespace sched
