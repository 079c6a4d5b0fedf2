// Database::send()'s pipeline and its prepared-statement cache (see db_pipeline.hpp). The cache
// lives with the PGconn, as libpq "instance data" of an event procedure that frees it when the
// connection is finished, so Database keeps its size (libagent.so.1's ABI).
#include "db_pipeline.hpp"

#include <libpq-events.h>

#include <string_view>
#include <unordered_map>
#include <utility>

namespace agent::detail {
namespace {

// A handler sends a handful of distinct statements; texts built per call (e.g. a VALUES list
// of varying length) must not fill the server's memory: past these limits, statements are
// sent unprepared.
constexpr std::size_t max_cached_statements = 64;
constexpr std::size_t max_cached_text = 8 * 1024;

struct StatementCache {
  std::unordered_map<std::string, std::string> names;  // statement text -> prepared name
  std::vector<std::string> unconfirmed;                // prepared in the open pipeline
  unsigned long next = 0;
};

int cache_event(PGEventId id, void* info, void* /*pass_through*/) {
  if (id == PGEVT_CONNDESTROY) {
    auto* event = static_cast<PGEventConnDestroy*>(info);
    delete static_cast<StatementCache*>(PQinstanceData(event->conn, cache_event));
  } else if (id == PGEVT_CONNRESET) {  // a new session: its prepared statements are gone
    auto* event = static_cast<PGEventConnReset*>(info);
    if (auto* cache = static_cast<StatementCache*>(PQinstanceData(event->conn, cache_event)))
      *cache = StatementCache{};
  }
  return 1;
}

StatementCache* cache_of(PGconn* conn) {
  return static_cast<StatementCache*>(PQinstanceData(conn, cache_event));
}

// The prepared name of `statement`, preparing it (queued, in the pipeline) on first use;
// nullptr when it is not to be cached.
const std::string* prepared_name(PGconn* conn, const std::string& statement) {
  StatementCache* cache = cache_of(conn);
  if (cache == nullptr) return nullptr;
  if (auto it = cache->names.find(statement); it != cache->names.end()) return &it->second;
  if (cache->names.size() >= max_cached_statements || statement.size() > max_cached_text)
    return nullptr;
  std::string name = "libagent_" + std::to_string(cache->next++);
  if (PQsendPrepare(conn, name.c_str(), statement.c_str(), 0, nullptr) != 1)
    throw Error("cannot send a statement to the database: " + trimmed(PQerrorMessage(conn)));
  cache->unconfirmed.push_back(statement);
  return &cache->names.emplace(statement, std::move(name)).first->second;
}

// After the pipeline: statements prepared in it exist only if nothing failed (the server skips
// everything after a failure, and a name may have been prepared before it: names are never
// reused).
void settle_cache(PGconn* conn, bool failed) {
  StatementCache* cache = cache_of(conn);
  if (cache == nullptr) return;
  if (failed)
    for (const std::string& text : cache->unconfirmed) cache->names.erase(text);
  cache->unconfirmed.clear();
}

}  // namespace

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Error result_error(const PGresult* res, PGconn* conn) {
  std::string message = res ? PQresultErrorMessage(res) : "";
  if (message.empty()) message = PQerrorMessage(conn);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return Error(trimmed(message), state ? state : "");
}

TextParams::TextParams(std::span<const Database::Param> params) {
  values.reserve(params.size());
  pointers.reserve(params.size());
  for (const Database::Param& p : params) {
    if (p) {
      values.emplace_back(*p);
      pointers.push_back(values.back().c_str());
    } else {
      pointers.push_back(nullptr);
    }
  }
}

void attach_statement_cache(PGconn* conn) {
  if (PQregisterEventProc(conn, cache_event, "libagent statement cache", nullptr) != 1) return;
  auto cache = std::make_unique<StatementCache>();
  if (PQsetInstanceData(conn, cache_event, cache.get()) == 1) cache.release();
}

void send_statement(PGconn* conn, const std::string& statement, const TextParams& params) {
  if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn) != 1)
    throw Error("cannot enter pipeline mode: " + trimmed(PQerrorMessage(conn)));
  const std::string* name = prepared_name(conn, statement);
  const int sent = name != nullptr
                       ? PQsendQueryPrepared(conn, name->c_str(), params.size(),
                                             params.pointers.data(), nullptr, nullptr, 0)
                       : PQsendQueryParams(conn, statement.c_str(), params.size(), nullptr,
                                           params.pointers.data(), nullptr, nullptr, 0);
  if (sent != 1)
    throw Error("cannot send a statement to the database: " + trimmed(PQerrorMessage(conn)));
}

std::optional<Error> finish_pipeline(PGconn* conn, ResultPtr* last) {
  const auto lost = [conn] {
    return Error("lost the database connection: " + trimmed(PQerrorMessage(conn)));
  };
  if (PQpipelineSync(conn) != 1) throw lost();
  std::optional<Error> first;
  bool after_null = false;
  for (;;) {
    ResultPtr res(PQgetResult(conn), &PQclear);
    if (!res) {
      // Each statement's results end with one nullptr; two in a row: nothing more will come.
      if (after_null || PQstatus(conn) == CONNECTION_BAD) throw lost();
      after_null = true;
      continue;
    }
    after_null = false;
    const ExecStatusType st = PQresultStatus(res.get());
    if (st == PGRES_PIPELINE_SYNC) {
      settle_cache(conn, first.has_value());
      if (PQexitPipelineMode(conn) != 1) throw lost();
      return first;
    }
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (last) *last = std::move(res);
    } else if (st != PGRES_PIPELINE_ABORTED && !first) {  // aborted: skipped after a failure
      first = result_error(res.get(), conn);
    }
  }
}

}  // namespace agent::detail
