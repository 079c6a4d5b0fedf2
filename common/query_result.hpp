// QueryResult: the outcome of one statement sent through Database (database.hpp): its rows as
// text, or its error with the SQLSTATE, on one line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
  // The error says the connection is gone (SQLSTATE class 08, or the server shutting down),
  // not that the statement is wrong.
  bool connection_lost() const;
  // PostgreSQL aborted the statement to break a deadlock (40P01) or a serialization conflict
  // (40001): sent again, it can succeed.
  bool conflict() const;
  const std::string& error() const { return error_; }
  const std::string& sqlstate() const { return sqlstate_; }
  int rows() const;
  int columns() const;
  std::string column_name(int col) const;
  int column(std::string_view name) const;  // -1 when absent
  bool is_null(int row, int col) const;
  std::string get(int row, int col) const;
  long get_long(int row, int col, long fallback = 0) const;
  // The value as a view into the result (valid while the result lives); nullopt for NULL.
  std::optional<std::string_view> value(int row, int col) const;
  // Row `row` as a row line (SPEC §2.4: agent::protocol::format_row of its columns, by name,
  // NULL as `col=`), made straight from the result; columns from `skip_from` on are left out.
  std::string row_line(int row, int skip_from = -1) const;
  long affected() const;  // rows touched by UPDATE/INSERT/DELETE

 private:
  std::shared_ptr<pg_result> res_;
  std::string error_, sqlstate_;
};

}  // namespace sched
