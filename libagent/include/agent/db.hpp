// An agent's PostgreSQL connection (SPEC §8): agent::Database owns one libpq connection and
// runs parameterised statements only; agent::Result owns one result; agent::Transaction rolls
// back unless committed. Errors are thrown as agent::Error carrying PostgreSQL's SQLSTATE.
// libpq stays out of this header; native() gives the handle to code that includes it.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "agent/session.hpp"

struct pg_conn;    // PGconn
struct pg_result;  // PGresult

namespace agent {

// Where the conninfo comes from, in order: --db, then <--config dir>/Db.conf, then "" (libpq
// reads the PG* environment). Throws agent::Error when Db.conf exists but is malformed or
// cannot be read.
std::string resolve_conninfo(const SchedulerArgs& args);

// FOSSology's Db.conf (one `key=value;` per line, `#` comment lines, white space around keys
// and values ignored) as a libpq conninfo string with each value quoted. `origin` names the
// file in errors ("Db.conf:3: ...").
std::string parse_db_conf(std::string_view text, std::string_view origin = "Db.conf");

// Appends `value` as one element to a PostgreSQL array literal being built ("{" ... then "}"),
// for a parameter such as `unnest($1::text[])`: double-quoted, `"` and `\` escaped, after a
// comma unless it is the first, so that any text goes through as it is; no value is SQL NULL.
void append_array_element(std::string& literal, std::optional<std::string_view> value);

// One statement's result: rows × cols of text values (SQL NULL is distinct from "").
class Result {
 public:
  Result() = default;
  int rows() const;
  int cols() const;
  bool is_null(int row, int col) const;
  std::string get(int row, int col) const;                   // "" for NULL
  std::optional<std::string> value(int row, int col) const;  // nullopt for NULL
  int column(std::string_view name) const;                   // -1 if absent
  long affected() const;  // rows changed by INSERT/UPDATE/DELETE, else 0

 private:
  friend class Database;
  struct Clear {
    void operator()(pg_result* r) const;
  };
  explicit Result(pg_result* r) : res_(r) {}
  std::unique_ptr<pg_result, Clear> res_;
};

class Database {
 public:
  // nullopt = SQL NULL. Values are sent as text; the server infers or casts their types.
  using Param = std::optional<std::string_view>;

  explicit Database(const std::string& conninfo);  // connects; throws agent::Error
  static Database connect(const SchedulerArgs& args) { return Database(resolve_conninfo(args)); }
  ~Database();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;

  // Runs one statement with $1..$n parameters; throws agent::Error (with SQLSTATE) on failure.
  // Statements queued by send() go first, in the same round trip; when one of them failed,
  // exec() throws that error (the first) and its own statement is not run.
  Result exec(std::string_view sql, std::initializer_list<Param> params = {});
  Result exec(std::string_view sql, std::span<const Param> params);

  // Queues a statement whose result is not needed (an INSERT or UPDATE without RETURNING)
  // without waiting for it: the connection enters libpq's pipeline mode, and the statement
  // travels with the next exec(), sync() or commit(), which waits for all of them at once, in
  // one round trip, and throws the first error among them. Use it inside a transaction (e.g.
  // an ItemLoop handler), where a failure rolls back everything anyway: outside one, each
  // queued statement commits on its own. Until that next exec()/sync(), the connection must
  // not be used through native(). Throws agent::Error only when the statement cannot be sent.
  void send(std::string_view sql, std::initializer_list<Param> params = {});
  void send(std::string_view sql, std::span<const Param> params);
  // Queues one row for a multi-row INSERT, e.g. send_row("INSERT INTO t (a, b, c)",
  // "($1, $2::integer, md5($1))", {x, y}): `tuple` uses $1..$n for this row's n parameters
  // (not inside string literals). Rows with the same head and tuple are sent as one statement
  // (up to 1000 rows), like send()'s statements: with the next exec(), sync() or commit(), and
  // before any statement sent after them. Rows of different heads keep the order of their
  // first row. An ItemLoop handler's rows are so inserted by one statement per group.
  void send_row(std::string_view head, std::string_view tuple, std::span<const Param> params);
  void send_row(std::string_view head, std::string_view tuple, std::initializer_list<Param> params);
  // Waits for the statements queued by send() and send_row(); throws the first error.
  void sync();
  bool pipelined() const;  // statements are queued (send() was called, no sync yet)

  void begin();
  // COMMIT; throws agent::Error (SQLSTATE 25P02) when the server rolled the transaction back
  // instead, because a statement in it had failed.
  void commit();
  // ROLLBACK, also after queued statements failed. Throws only when the connection is broken.
  void rollback();
  bool in_transaction() const;  // inside BEGIN (also when the transaction has failed)

  // A quoted SQL identifier (PQescapeIdentifier), for names that cannot be parameters.
  std::string quote_identifier(std::string_view name) const;

  pg_conn* native() const { return conn_.get(); }

 private:
  struct Finish {
    void operator()(pg_conn* c) const;
  };
  std::unique_ptr<pg_conn, Finish> conn_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  Database& db() { return db_; }

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace agent
