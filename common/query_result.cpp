// QueryResult over libpq's PGresult.
#include "query_result.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "agent/protocol.hpp"

namespace sched {

namespace {

// The server's error on one line (it ends up in jq_endtext): "ERROR:  <message>", then
// "; DETAIL: ..." and "; HINT: ..." if any, without the excerpt of the statement that libpq
// adds on lines of their own. libpq's own errors have no fields: their lines are joined.
std::string one_line_error(const pg_result* res, ExecStatusType status) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  std::string out;
  if (severity && primary) {
    out = std::string(severity) + ":  " + primary;
    if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
      out += std::string("; DETAIL: ") + detail;
    if (const char* hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT))
      out += std::string("; HINT: ") + hint;
  } else {
    const char* msg = PQresultErrorMessage(res);
    out = msg && *msg ? msg : PQresStatus(status);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

QueryResult::QueryResult(pg_result* res) : res_(res, PQclear) {
  auto status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    error_ = one_line_error(res, status);
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
std::optional<std::string_view> QueryResult::value(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string_view(PQgetvalue(res_.get(), row, col),
                          static_cast<std::size_t>(PQgetlength(res_.get(), row, col)));
}

std::string QueryResult::row_line(int row, int skip_from) const {
  std::string line;
  int n = skip_from < 0 ? columns() : std::min(skip_from, columns());
  for (int c = 0; c < n; ++c)
    agent::protocol::append_field(line, PQfname(res_.get(), c), value(row, c));
  return line;
}

bool QueryResult::connection_lost() const {
  if (ok()) return false;
  // 08: connection exception; 57P01-57P03: administrator, crash or startup shutdown.
  return sqlstate_.rfind("08", 0) == 0 || sqlstate_ == "57P01" || sqlstate_ == "57P02" ||
         sqlstate_ == "57P03";
}

bool QueryResult::conflict() const {
  return sqlstate_ == "40P01" || sqlstate_ == "40001";
}

long QueryResult::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  return n && *n ? std::atol(n) : 0;
}

}  // namespace sched
