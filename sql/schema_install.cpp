// The schema installer: one transaction, serialized by an advisory lock, that creates the
// version table if needed and applies every embedded migration newer than the recorded
// version. The migration texts are constants generated from sql/ (schema_data.hpp).
#include "schema_install.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "schema_data.hpp"

namespace jobline::schema {
namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

[[noreturn]] void fail(const std::string& what, PGconn* conn, const PGresult* res) {
  std::string message = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  // One line: libpq puts hints and further hosts' failures on lines of their own.
  for (auto nl = message.find('\n'); nl != std::string::npos; nl = message.find('\n', nl)) {
    auto next = message.find_first_not_of(" \t", nl + 1);
    message.replace(nl, (next == std::string::npos ? message.size() : next) - nl, "; ");
  }
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  throw std::runtime_error(
      fmt::format("{}: {}{}", what, message, state ? fmt::format(" (SQLSTATE {})", state) : ""));
}

// Runs a constant script (possibly several statements) and checks that it succeeded.
void run_script(PGconn* conn, const char* sql, const std::string& what) {
  Result res(PQexec(conn, sql));
  const ExecStatusType st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(what, conn, res.get());
}

// The highest recorded version (0 when none).
int recorded_version(PGconn* conn) {
  Result res(PQexecParams(conn, "SELECT coalesce(max(version), 0) FROM jobline_schema", 0, nullptr,
                          nullptr, nullptr, nullptr, 0));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    fail("cannot read the schema version", conn, res.get());
  }
  return std::stoi(PQgetvalue(res.get(), 0, 0));
}

void lock(PGconn* conn) {
  const std::string key = std::to_string(data::advisory_lock_key);
  const char* params[] = {key.c_str()};
  Result res(PQexecParams(conn, "SELECT pg_advisory_xact_lock($1::bigint)", 1, nullptr, params,
                          nullptr, nullptr, 0));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    fail("cannot take the installer's advisory lock", conn, res.get());
  }
}

// Applies the migrations after `from` inside the open transaction.
void apply_from(PGconn* conn, int from, InstallResult& result) {
  for (std::size_t i = 0; i < data::migration_count; ++i) {
    const data::Migration& m = data::migrations[i];
    if (m.version <= from) continue;
    run_script(conn, m.sql, fmt::format("migration {} failed", m.name));
    if (recorded_version(conn) != m.version) {
      throw std::runtime_error(fmt::format(
          "migration {} did not record version {} in jobline_schema", m.name, m.version));
    }
    result.applied.emplace_back(m.name);
  }
}

}  // namespace

int latest_version() {
  return data::migrations[data::migration_count - 1].version;
}

InstallResult install(const std::string& conninfo) {
  Conn conn(PQconnectdb(conninfo.c_str()));
  if (!conn) throw std::runtime_error("cannot connect to the database: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    fail("cannot connect to the database", conn.get(), nullptr);
  }
  // The NOTICEs of "IF NOT EXISTS" are expected; the library does not print them.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);

  InstallResult result;
  run_script(conn.get(), "BEGIN", "cannot begin the installation");
  lock(conn.get());
  run_script(conn.get(), data::bootstrap, "cannot create the schema version table");
  result.from_version = recorded_version(conn.get());
  if (result.from_version > latest_version()) {
    throw std::runtime_error(fmt::format(
        "the database schema has version {}, newer than this jobline's {}; upgrade jobline",
        result.from_version, latest_version()));
  }
  apply_from(conn.get(), result.from_version, result);
  run_script(conn.get(), "COMMIT", "cannot commit the installation");
  result.to_version = latest_version();
  return result;
}

}  // namespace jobline::schema
