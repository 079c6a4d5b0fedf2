// Helpers for the SQL-fed step tests (tests/db/sql_feed_test.cpp, tests/e2e/remote_feed_test.cpp):
// per-host agentdirs of symlinks to row_agent (so that "hosts" on one machine tell themselves
// apart: row_agent records its agentdir's name as its host), the items table with routing keys,
// and the feed_seen/feed_result tables row_agent writes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scheduler_harness.hpp"
#include "support.hpp"

namespace test::feed {

// <root>/<host>/row_agent/row_agent -> the built row_agent, for each host.
inline void make_agentdirs(const std::string& root, const std::vector<std::string>& hosts) {
  namespace fs = std::filesystem;
  for (const auto& h : hosts) {
    fs::path dir = fs::path(root) / h / "row_agent";
    fs::create_directories(dir);
    fs::create_symlink(build_dir() + "/tests/agents/row_agent/row_agent", dir / "row_agent");
  }
}

// items(id, k, label): k = md5(id) (hex: routed by its first two digits).
inline void make_tables(TempDatabase& db, int n) {
  db.query(
      fmt::format("CREATE TABLE items(id int PRIMARY KEY, k text, label text);"
                  "INSERT INTO items SELECT i, md5(i::text), 'x' FROM generate_series(1, {}) i;"
                  "CREATE TABLE feed_seen(item text, host text, pid int);"
                  "CREATE TABLE feed_result(item text, host text, pid int)",
                  n));
}

// The host a routing key's first byte belongs to with kRanges.
inline const char* kRanges[] = {"h1 = 00 54", "h2 = 55 aa", "h3 = ab ff"};
inline const char* kExpectedHost =
    "CASE WHEN get_byte(decode(substr(k, 1, 2), 'hex'), 0) <= 84 THEN 'h1' "
    "WHEN get_byte(decode(substr(k, 1, 2), 'hex'), 0) <= 170 THEN 'h2' ELSE 'h3' END";

inline AgentConf row_agent(int max = -1) {
  AgentConf a;
  a.name = "row_agent";
  a.command = "row_agent";
  a.max = max;
  return a;
}

// jq_cmd_args for row_agent writing into the test database.
inline std::string results_args(TempDatabase& db, const std::string& more = "") {
  std::string conninfo = db.conninfo();
  std::string quoted = "'";
  for (char c : conninfo) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return "--results --key=id --db=" + quoted + (more.empty() ? "" : " " + more);
}

// An SQL-fed step of row_agent routed by column k.
inline SchedulerHarness::Step sql_step(const std::string& query, const std::string& cmd_args,
                                       const std::string& runonpfile = "k") {
  SchedulerHarness::Step step;
  step.type = "row_agent";
  step.args = query;
  step.runonpfile = runonpfile;
  step.cmd_args = cmd_args;
  return step;
}

}  // namespace test::feed
