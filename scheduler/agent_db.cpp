// AgentDb: one lazily opened connection with `SET statement_timeout`, opened again after a loss.
#include "agent_db.hpp"

#include <utility>

#include "log.hpp"

#include "agent/protocol.hpp"

namespace sched {

namespace {
constexpr const char* kTimeout = "SELECT set_config('statement_timeout', $1, false)";

std::vector<std::string> row_lines(const QueryResult& r) {
  std::vector<std::string> lines;
  lines.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) lines.push_back(r.row_line(i));
  return lines;
}
}  // namespace

AgentDb::AgentDb(std::string conninfo, std::chrono::milliseconds statement_timeout)
    : conninfo_(std::move(conninfo)), timeout_(statement_timeout) {}

void AgentDb::run(const std::string& sql, Reply reply) {
  if (!db_ || !db_->usable()) {
    // Connected without blocking the loop; statements wait for it (or fail with its error).
    db_ = std::make_unique<Database>(conninfo_);
    db_->on_broken([this](const std::string& why) {
      if (!std::exchange(lost_, true))
        log::warning("DB: connection lost: {}; requests get DBERROR, the next one reconnects", why);
    });
    db_->connect_async([this](bool ok, const std::string&) {
      if (ok && std::exchange(lost_, false)) log::warning("DB: connection back");
    });
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
