// The jobline schema installer (SPEC §4): applies sql/migrations/ in order to a database, each
// once, in one transaction under an advisory lock, so that running it twice or from several
// processes at once is safe. Used by `scheduler --init-db` and `jobctl db init`; the same SQL
// is installed as share/jobline/sql/jobline.sql for `psql -f`.
#pragma once

#include <string>
#include <vector>

namespace jobline::schema {

struct InstallResult {
  int from_version = 0;              // the database's version before (0 = empty database)
  int to_version = 0;                // after (= latest_version())
  std::vector<std::string> applied;  // names of the migrations applied, e.g. "002_queueing"
  bool changed() const { return !applied.empty(); }
};

// The version the newest embedded migration records.
int latest_version();

// Connects with `conninfo` (libpq syntax; "" = the PG* environment) and upgrades the schema
// to latest_version(). All or nothing. Throws std::runtime_error with PostgreSQL's message
// and SQLSTATE on failure, and when the database is newer than this installer.
InstallResult install(const std::string& conninfo);

}  // namespace jobline::schema
