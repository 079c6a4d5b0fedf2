// The pipeline behind Database::send() (libpq's pipeline mode, see db.hpp): statements are
// queued without waiting, then one Sync and one pass over the results ends the pipeline. A
// queued statement is prepared once per connection (a named statement, cached by its text) and
// then only executed, so the server does not parse and plan it for every item.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/db.hpp"

namespace agent::detail {

// "message" of libpq without its trailing newline.
std::string trimmed(std::string s);

// The error of a failed result (message and SQLSTATE).
Error result_error(const PGresult* res, PGconn* conn);

// Parameters as libpq wants them: NUL-terminated text, nullptr for NULL.
struct TextParams {
  explicit TextParams(std::span<const Database::Param> params);
  int size() const { return static_cast<int>(pointers.size()); }
  std::vector<std::string> values;
  std::vector<const char*> pointers;
};

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Gives the connection its prepared-statement cache (freed with the connection). Without it
// (it could not be registered) statements are sent unprepared.
void attach_statement_cache(PGconn* conn);

// Queues a statement (after the rows send_row() queued), entering pipeline mode if needed. Throws
// agent::Error when it cannot be sent.
void send_statement(PGconn* conn, const std::string& statement, const TextParams& params);

// Queues one row of a multi-row INSERT (Database::send_row()). Throws agent::Error when rows
// cannot be sent.
void send_row(PGconn* conn, std::string_view head, std::string_view tuple,
              std::span<const Database::Param> params);

// Forgets the rows send_row() queued and did not send yet (before a ROLLBACK).
void discard_rows(PGconn* conn);

// Ends the pipeline: sends the pending rows and a Sync, reads every queued statement's result up to
// it and leaves pipeline mode. Returns the first failure (the server skipped the statements after
// it); `last` (if given) receives the result of the last statement that succeeded. Throws
// agent::Error when the connection is lost.
std::optional<Error> finish_pipeline(PGconn* conn, ResultPtr* last);

}  // namespace agent::detail
