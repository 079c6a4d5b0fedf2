// agent::Database, Result and Transaction over libpq: one connection, parameterised
// statements only (PQexecParams, text format), every failure an agent::Error with SQLSTATE.
#include "agent/db.hpp"

#include <libpq-fe.h>

#include <string>
#include <vector>

namespace agent {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

[[noreturn]] void throw_result_error(const PGresult* res, PGconn* conn) {
  std::string message = res ? PQresultErrorMessage(res) : "";
  if (message.empty()) message = PQerrorMessage(conn);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  throw Error(trimmed(message), state ? state : "");
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
}

Database::~Database() = default;
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;

Result Database::exec(std::string_view sql, std::initializer_list<Param> params) {
  return exec(sql, std::span<const Param>(params.begin(), params.size()));
}

Result Database::exec(std::string_view sql, std::span<const Param> params) {
  if (!conn_) throw Error("Database: used after being moved from");
  // libpq wants NUL-terminated text for the statement and text-format values.
  const std::string statement(sql);
  std::vector<std::string> values;
  values.reserve(params.size());
  std::vector<const char*> pointers;
  pointers.reserve(params.size());
  for (const Param& p : params) {
    if (p) {
      values.emplace_back(*p);
      pointers.push_back(values.back().c_str());
    } else {
      pointers.push_back(nullptr);
    }
  }
  Result result(PQexecParams(conn_.get(), statement.c_str(), static_cast<int>(pointers.size()),
                             nullptr, pointers.data(), nullptr, nullptr, 0));
  const ExecStatusType st = PQresultStatus(result.res_.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    throw_result_error(result.res_.get(), conn_.get());
  }
  return result;
}

void Database::begin() {
  exec("BEGIN");
}
void Database::commit() {
  exec("COMMIT");
}
void Database::rollback() {
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
  open_ = false;
  db_.commit();
}

}  // namespace agent
