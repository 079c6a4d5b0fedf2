// feed_replay: the statements a scheduler's SQL-fed step sent on its feed connection, captured
// from PostgreSQL's own log (log_statement = 'all' on the step's database), and replayed on a
// plain libpq connection — what feeding the same rows costs without the scheduler (issue 18
// benchmark d). Capturing from the log, not from the scheduler's source, keeps the replay the
// same as whatever the scheduler sends today.
#pragma once

#include <optional>
#include <string>
#include <vector>

struct Statement {
  std::string text;
  std::vector<std::optional<std::string>> params;  // nullopt: SQL NULL
};

// Where the fixture cluster's server log ends now.
struct LogMark {
  std::string path;
  long long offset = 0;
};
LogMark log_mark();

// The statements (with their parameters) of the backend that declared the cursor
// `jobline_feed`, logged after `mark`, in order. Throws if there is none.
std::vector<Statement> feed_statements(const LogMark& mark);

// Runs them one by one (PQexecParams, text results read in full) on a new connection to
// `conninfo`; returns the seconds taken (connecting excluded). Throws on a failed statement.
double replay(const std::string& conninfo, const std::vector<Statement>& statements);
