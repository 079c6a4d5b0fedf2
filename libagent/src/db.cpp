// agent::Database, Result and Transaction over libpq: one connection, parameterised
// statements only (PQexecParams, text format), every failure an agent::Error with SQLSTATE.
// send() queues statements in libpq's pipeline mode (db_pipeline.cpp); the next exec()/sync()
// sends a Sync after them and reads every result up to it, then leaves pipeline mode again, so
// the connection is in pipeline mode only while statements are queued.
#include "agent/db.hpp"

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "db_pipeline.hpp"

namespace agent {

using detail::finish_pipeline;
using detail::result_error;
using detail::ResultPtr;
using detail::send_statement;
using detail::TextParams;
using detail::trimmed;

namespace {

[[noreturn]] void throw_result_error(const PGresult* res, PGconn* conn) {
  throw result_error(res, conn);
}

}  // namespace

// ---- Result ----------------------------------------------------------------------------------

void Result::Clear::operator()(pg_result* r) const {
  PQclear(r);
}

int Result::rows() const {
  return res_ ? PQntuples(res_.get()) : 0;
}
int Result::cols() const {
  return res_ ? PQnfields(res_.get()) : 0;
}

bool Result::is_null(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= cols()) {
    throw Error("Result: no cell (" + std::to_string(row) + ", " + std::to_string(col) + ")");
  }
  return PQgetisnull(res_.get(), row, col) != 0;
}

std::string Result::get(int row, int col) const {
  if (is_null(row, col)) return {};
  const auto len = static_cast<std::size_t>(PQgetlength(res_.get(), row, col));
  return std::string(PQgetvalue(res_.get(), row, col), len);
}

std::optional<std::string> Result::value(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return get(row, col);
}

int Result::column(std::string_view name) const {
  for (int c = 0; c < cols(); ++c) {
    if (name == PQfname(res_.get(), c)) return c;
  }
  return -1;
}

long Result::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  return (n && *n) ? std::stol(n) : 0;
}

// ---- Database --------------------------------------------------------------------------------

void Database::Finish::operator()(pg_conn* c) const {
  PQfinish(c);
}

Database::Database(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (!conn_) throw Error("cannot connect to the database: out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw Error("cannot connect to the database: " + trimmed(PQerrorMessage(conn_.get())));
  }
  // Server NOTICEs are not the library's to print.
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
  detail::attach_statement_cache(conn_.get());
}

Database::~Database() = default;
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;

Result Database::exec(std::string_view sql, std::initializer_list<Param> params) {
  return exec(sql, std::span<const Param>(params.begin(), params.size()));
}

Result Database::exec(std::string_view sql, std::span<const Param> params) {
  if (!conn_) throw Error("Database: used after being moved from");
  const std::string statement(sql);
  const TextParams values(params);
  if (pipelined()) {  // after the queued statements, in the same round trip
    send_statement(conn_.get(), statement, values);
    ResultPtr last(nullptr, &PQclear);
    if (auto error = finish_pipeline(conn_.get(), &last)) throw std::move(*error);
    return Result(last.release());
  }
  Result result(PQexecParams(conn_.get(), statement.c_str(), values.size(), nullptr,
                             values.pointers.data(), nullptr, nullptr, 0));
  const ExecStatusType st = PQresultStatus(result.res_.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    throw_result_error(result.res_.get(), conn_.get());
  }
  return result;
}

void Database::send(std::string_view sql, std::initializer_list<Param> params) {
  send(sql, std::span<const Param>(params.begin(), params.size()));
}

void Database::send(std::string_view sql, std::span<const Param> params) {
  if (!conn_) throw Error("Database: used after being moved from");
  send_statement(conn_.get(), std::string(sql), TextParams(params));
}

void Database::send_row(std::string_view head, std::string_view tuple,
                        std::initializer_list<Param> params) {
  send_row(head, tuple, std::span<const Param>(params.begin(), params.size()));
}

void Database::send_row(std::string_view head, std::string_view tuple,
                        std::span<const Param> params) {
  if (!conn_) throw Error("Database: used after being moved from");
  detail::send_row(conn_.get(), head, tuple, params);
}

void Database::sync() {
  if (!pipelined()) return;
  if (auto error = finish_pipeline(conn_.get(), nullptr)) throw std::move(*error);
}

bool Database::pipelined() const {
  return conn_ && PQpipelineStatus(conn_.get()) != PQ_PIPELINE_OFF;
}

void Database::begin() {
  exec("BEGIN");
}

void Database::commit() {
  const Result r = exec("COMMIT");
  // A failed transaction "commits" as a ROLLBACK, without an error.
  if (std::string_view(PQcmdStatus(r.res_.get())) != "COMMIT")
    throw Error("COMMIT: the transaction had failed and was rolled back", "25P02");
}

void Database::rollback() {
  // A queued statement that failed would make the server skip a ROLLBACK in its pipeline:
  // end the pipeline first (its errors do not matter any more).
  if (pipelined()) {
    detail::discard_rows(conn_.get());
    (void)finish_pipeline(conn_.get(), nullptr);
  }
  exec("ROLLBACK");
}

bool Database::in_transaction() const {
  const PGTransactionStatusType st = PQtransactionStatus(conn_.get());
  return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

std::string Database::quote_identifier(std::string_view name) const {
  char* quoted = PQescapeIdentifier(conn_.get(), name.data(), name.size());
  if (!quoted) throw Error("cannot quote identifier: " + trimmed(PQerrorMessage(conn_.get())));
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

// ---- Transaction -----------------------------------------------------------------------------

Transaction::Transaction(Database& db) : db_(db) {
  db_.begin();
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    db_.rollback();
  } catch (const Error&) {
    // The connection is broken; the server rolls back on its own.
  }
}

void Transaction::commit() {
  db_.commit();  // when it throws, the destructor still rolls back (harmless if already over)
  open_ = false;
}

}  // namespace agent
