// Scanner: what the three file scanners (copyright, license, mimetype) share, so that each
// agent's own code is only its detector and the rows it writes (docs/agents.md). One Scanner per
// agent process; it owns the Session and the database connection.
//
// Scheduler mode: an SQL-fed step (SPEC §5.2) feeds row lines with at least `pfile_pk` and
// `pfile_sha1`. The scanner sends `JQ_SUBS $agent_pk <pk>` before its first OK, then runs
// libagent's KILL-safe ItemLoop (groups of items per transaction): for each row it claims
// (agent_pk, pfile_pk) in pfile_scanned, and only when the claim is new calls the agent's
// `store` with the file's repository path — so a file is scanned once per agent revision even
// when several uploads or several rows name it, and a kill leaves all of a file's rows or none.
// Standalone mode (run by hand): the items are file paths and `print` writes findings to stdout.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/db.hpp"
#include "agent/session.hpp"

namespace scanner {

struct Spec {
  std::string name;  // agent name (agent_name, the JQ_SUBS owner, log prefix)
  std::string rev;   // agent_rev: bump it when results change, so files are scanned again
  std::string desc;  // agent_desc
  // Once after connecting, outside any transaction (e.g. fill a lookup table).
  std::function<void(agent::Database& db, int agent_pk)> prepare;
  // Scans the file at `path` and writes its rows inside the loop's open transaction (the
  // session is for log messages).
  std::function<void(agent::Session& session, agent::Database& db, int agent_pk,
                     const std::string& pfile_pk, const std::string& path)>
      store;
  // Standalone mode: scans the file at `path` and prints the findings on stdout.
  std::function<void(const std::string& path)> print;
};

// Parses the agent's own options (--repository DIR, --group N, --window N, --help), runs the
// scanner in the mode the Session finds, and returns main()'s exit code. Errors are written
// to stderr as one line "<name>: <message>" and give 1; a bad option gives 2.
int run(int argc, char** argv, const Spec& spec);

// Reads at most `limit` bytes of the file at `path`; throws agent::Error naming the file.
std::string read_file(const std::string& path, std::size_t limit);

// `bytes` as PostgreSQL text: unchanged when it is UTF-8; otherwise read as Latin-1 (the other
// encoding of old source files). NUL bytes, which text cannot hold, become U+FFFD.
std::string to_text(std::string_view bytes);

// Inserts rows with agent::Database::send_row(): `head` + " VALUES " + one copy of `tuple` per
// row, where `$1`..`$<per_row>` in `tuple` stand for that row's values; the rows of a group's
// files go as few multi-row statements with the next statement or the group's COMMIT (a
// database error shows there and rolls the group back). `values` holds the rows one after
// the other (a multiple of per_row). Only placeholders are generated; values always travel as
// parameters.
void insert_rows(agent::Database& db, std::string_view head, std::string_view tuple,
                 std::size_t per_row, const std::vector<std::string>& values);

// The bytes a scanner looks at in one file (bounded: bigger files are scanned in their first
// part only; the license and copyright notices of real files stand near the top).
inline constexpr std::size_t max_scan_bytes = 4 * 1024 * 1024;

}  // namespace scanner
