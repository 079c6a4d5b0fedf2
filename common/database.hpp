// Database: one PostgreSQL connection driven by the main loop through libpq's asynchronous API,
// so that no query ever stalls agent traffic. Statements are queued and sent one at a time in
// FIFO order (so their effects are ordered); results arrive as callbacks on the loop. LISTEN
// notifications arrive on the same socket. The scheduler owns the queue connection; SQL-fed
// steps and DB: requests own one each.
//
// With pipeline(n) (before connecting) up to n statements are in flight at once in libpq's
// pipeline mode, each followed by its own sync point (so each is its own implicit transaction
// and an error stays with its statement, as when they are sent one at a time): the server
// runs them back to back, in order, without a round trip between them. Results still come
// back in FIFO order. In pipeline mode, statements named by prepare() are parsed and planned
// once per connection (a named prepared statement, made in the same pipeline as its first use).
//
// Writes (write(), write_latest()) queued one after another in the same pass of the loop form
// a group that is sent when the pass ends, with one sync point after its last statement: one
// implicit transaction, one commit (and one WAL flush) for all of them. Their callbacks run
// once that commit is known, in order. Should any of them (or the commit) fail, the whole
// group is rolled back and each of its statements is sent again on its own, so that errors
// stay with their statements as above. A statement queued with query() ends the group before
// it (FIFO order holds across both), and a group holds at most n statements.
//
// A lost connection either fails the statements in flight and queued (SQLSTATE class 08; the
// owner decides when to connect again: feed and DB: connections), or, after keep_connected()
// (the scheduler's queue connection), fails nothing: the statement in flight goes back to the
// head of the queue (every statement sent this way must be idempotent), later ones wait, and
// the connection is made again with back-off. Each new connection first runs the session
// statements (on_reconnect, then LISTEN again), then the queue in order. On a kept connection
// a statement that PostgreSQL aborted to break a deadlock or a serialization conflict is sent
// again (up to kConflictRetries times, each logged): the other transaction goes on, and the
// statement, idempotent, then succeeds.
//
//   Closed --connect--> Connecting --ok--> Connected --lost--> Closed (statements failed)
//   keep_connected: Connecting --failed--> Waiting; Connected --lost--> Waiting;
//                   Waiting --back-off timer--> Connecting
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backoff.hpp"
#include "event_loop.hpp"
#include "query_result.hpp"

struct pg_conn;

namespace sched {

using Params = std::vector<std::optional<std::string>>;
using ResultFn = std::function<void(const QueryResult&)>;

// What the owner of a kept connection hears (keep_connected).
struct ConnectionEvents {
  // Once per outage, when it begins: libpq's reason (the first failed attempt at startup
  // counts as the beginning of an outage).
  std::function<void(const std::string& why)> lost;
  // On every connection made: how long the database was away (zero when there was no outage).
  // Statements queued here go after the session statements and the ones that waited.
  std::function<void(Clock::duration outage)> up;
};

class Database {
 public:
  explicit Database(std::string conninfo);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Connects without blocking the loop (PQconnectStart/PQconnectPoll on the socket).
  // Statements queued meanwhile are sent once connected, or (not kept) fail with libpq's
  // message; `done(ok, error)` (optional) runs first.
  void connect_async(std::function<void(bool ok, const std::string& error)> done = {});
  // From now on a lost connection (or a failed attempt) is an outage: nothing fails, the
  // connection is made again with `backoff`, `events` report it. May be called again to
  // change the events.
  void keep_connected(ConnectionEvents events, Backoff backoff = Backoff());
  // Drops the connection and every statement (no callback runs), and stops reconnecting.
  void close();
  bool connected() const;
  bool usable() const { return connecting_ || connected(); }  // connected or on its way
  // libpq's last connection error (of a failed attempt or a lost connection).
  const std::string& last_error() const { return last_error_; }
  // Why the conninfo cannot be used at all (libpq cannot parse it), or "".
  std::string conninfo_error() const;
  // Where it connects, for messages: "host=... port=... dbname=..." (no password).
  const std::string& target() const { return target_; }
  // Up to `depth` statements in flight at once (libpq's pipeline mode when above 1), from the
  // next connection on. Default 1: one at a time.
  void pipeline(std::size_t depth) { depth_ = depth == 0 ? 1 : depth; }
  // Statements whose text is exactly `sql` run as a prepared statement from now on (on a
  // pipelined connection; one at a time they are sent as they are): prepared on each
  // connection with their first use, in the same pipeline, then only executed (uses sent
  // while that prepare is still in flight go as they are). For the hot
  // statements of a busy connection (the scheduler's step start and end); their results are
  // the same either way.
  void prepare(std::string sql);
  // Runs one statement now, blocking; only before the loop runs (startup, --init-db, locks),
  // with nothing in flight.
  QueryResult exec_blocking(const std::string& sql, const Params& params = {});

  // Queues a statement; `done` (optional) gets its result on the loop.
  void query(std::string sql, Params params, ResultFn done = {});
  // Queues a write that may share one transaction with the writes queued next to it in this
  // pass of the loop (see above); `done` runs once that transaction has committed (or with
  // the statement's own error). On a connection that is not pipelined, the same as query().
  void write(std::string sql, Params params, ResultFn done = {});
  // write() of a statement that overwrites (e.g. a counter): one queued earlier with the same
  // `key` and not sent yet is dropped, so an outage keeps one per key, the latest, in order.
  void write_latest(std::string key, std::string sql, Params params);
  // LISTEN on `channel` now (if connected) and on every later connection; `fn(payload)` for
  // each notification.
  void listen(const std::string& channel, std::function<void(const std::string&)> fn);
  // Runs `sql` first on every later connection (the caller ran it on the current one), e.g.
  // a session's advisory lock; `check` gets its result.
  void on_reconnect(std::string sql, ResultFn check);
  // Called when a connection that is not kept breaks (after the failed queries got their
  // errors).
  void on_broken(std::function<void(const std::string&)> fn) { on_broken_ = std::move(fn); }
  // Statements queued or in flight.
  std::size_t pending() const { return queue_.size() + inflight_.size(); }
  // The conninfo it connects with (for further connections to the same database).
  const std::string& conninfo() const { return conninfo_; }
  // Escapes a string as an SQL literal with the connection's rules ('...' or E'...').
  std::string literal(std::string_view text) const;

 private:
  struct Request {
    std::string sql;
    Params params;
    ResultFn done;
    std::string key{};     // write_latest
    bool session = false;  // a session statement: not carried over to the next connection
    bool sync = true;      // a sync point follows it (false: the next write is in its group)
    int conflicts = 0;     // times aborted by a deadlock or serialization conflict
    int prepares = -1;     // the prepared statement this one makes with its first use, or -1
    int results = 0;       // results read so far (a prepare's comes first)
    int ends = 0;          // ends of its results read so far (pipeline mode: one per command)
    std::optional<QueryResult> result{};  // its own (or the first failed one, a prepare's)
  };
  static constexpr int kConflictRetries = 5;
  void push(Request r);
  void push_write(Request r);
  void close_group();
  static std::size_t transaction_size(const std::deque<Request>& q);
  std::size_t head_transaction() const { return transaction_size(inflight_); }
  void send_next();
  bool on_socket(GIOCondition condition);
  void collect_results();
  void take_result(pg_result* res);
  void finish_transaction();
  void deliver_notifications();
  void lose(const std::string& reason);
  static void on_notice(void* self, const char* message);
  void fail_all(const std::string& why);
  void poll_connect(int status);
  void on_connected();
  void start_session();
  void watch_socket();
  bool send(Request& r);

  std::string conninfo_, target_, last_error_;
  std::string server_fatal_;  // a FATAL the server sent before closing the connection
  pg_conn* conn_ = nullptr;
  std::deque<Request> queue_;
  std::deque<Request> inflight_;  // sent, in order
  std::size_t complete_ = 0;      // ... of which the first ones have all their results read
  std::size_t depth_ = 1;         // pipeline()
  bool pipelined_ = false;        // the connection is in pipeline mode
  std::size_t open_group_ = 0;    // writes at the tail of queue_ that this pass may add to
  Pending group_end_;             // the pass's end: the open group may be sent
  std::vector<std::string> prepared_sql_;  // prepare(): statement i is named "jobline_<i>"
  enum class Prepared : char { kNo, kPreparing, kYes };
  std::vector<Prepared> prepared_now_;  // ... and whether it is prepared on this connection
  std::vector<std::pair<std::string, std::function<void(const std::string&)>>> listeners_;
  std::vector<std::pair<std::string, ResultFn>> on_reconnect_;
  std::function<void(const std::string&)> on_broken_;
  Source socket_watch_;
  bool want_write_ = false;
  bool connecting_ = false;
  std::function<void(bool, const std::string&)> on_connected_;
  // keep_connected
  bool keep_ = false;
  ConnectionEvents events_;
  Backoff backoff_;
  Source retry_;
  std::optional<Clock::time_point> outage_since_;
};

}  // namespace sched
