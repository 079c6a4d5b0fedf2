// The schema's SQL as embedded in the installer: generated at build time by sql/embed.cmake
// from sql/bootstrap.sql and sql/migrations/*.sql (the one source of truth). Private to
// jobline_schema.
#pragma once

#include <cstddef>

namespace jobline::schema::data {

struct Migration {
  int version;       // NNN of the file name, 1, 2, ... without gaps
  const char* name;  // file name without ".sql", recorded in jobline_schema.name
  const char* sql;   // the file's text; ends by inserting its own jobline_schema row
};

extern const long long advisory_lock_key;  // held for the installer's transaction
extern const char* const bootstrap;        // creates jobline_schema if missing
extern const Migration migrations[];       // in version order
extern const std::size_t migration_count;

}  // namespace jobline::schema::data
