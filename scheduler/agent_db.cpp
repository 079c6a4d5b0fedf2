// AgentDb: one lazily opened connection with `SET statement_timeout`.
#include "agent_db.hpp"

#include "log.hpp"

#include "agent/protocol.hpp"

namespace sched {

namespace {
constexpr const char* kTimeout = "SELECT set_config('statement_timeout', $1, false)";

std::vector<std::string> row_lines(const QueryResult& r) {
  std::vector<std::string> lines;
  lines.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    agent::protocol::Row row;
    for (int c = 0; c < r.columns(); ++c) {
      agent::protocol::Field f{r.column_name(c), std::nullopt};
      if (!r.is_null(i, c)) f.value = r.get(i, c);
      row.fields.push_back(std::move(f));
    }
    lines.push_back(agent::protocol::format_row(row));
  }
  return lines;
}
}  // namespace

AgentDb::AgentDb(std::string conninfo, std::chrono::milliseconds statement_timeout)
    : conninfo_(std::move(conninfo)), timeout_(statement_timeout) {}

void AgentDb::run(const std::string& sql, Reply reply) {
  if (!db_ || !db_->connected()) {
    try {
      db_ = std::make_unique<Database>(conninfo_);
      db_->connect();
    } catch (const std::exception& e) {
      db_.reset();
      reply({}, e.what());
      return;
    }
    db_->query(kTimeout, {std::to_string(timeout_.count()) + "ms"}, [](const QueryResult& r) {
      if (!r.ok()) log::error("DB: connection: cannot set statement_timeout: {}", r.error());
    });
  }
  db_->query(sql, {}, [reply = std::move(reply)](const QueryResult& r) {
    if (!r.ok())
      reply({}, r.error());
    else
      reply(row_lines(r), "");
  });
}

}  // namespace sched
