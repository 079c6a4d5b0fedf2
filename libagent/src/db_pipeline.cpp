// Database::send()'s pipeline, its prepared-statement cache and send_row()'s pending rows (see
// db_pipeline.hpp). Both live with the PGconn, as libpq "instance data" of an event procedure
// that frees them when the connection is finished, so Database keeps its size (libagent.so.1's
// ABI).
#include "db_pipeline.hpp"

#include <libpq-events.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace agent::detail {
namespace {

// A handler sends a handful of distinct statements; texts built per call (e.g. a VALUES list
// of varying length) must not fill the server's memory: past these limits, statements are
// sent unprepared.
constexpr std::size_t max_cached_statements = 64;
constexpr std::size_t max_cached_text = 16 * 1024;

// Rows queued by send_row() for one (head, tuple), not sent yet.
struct PendingRows {
  std::string head;   // "INSERT INTO t (a, b)"
  std::string tuple;  // "($1, md5($2))"
  std::size_t per_row = 0;
  std::size_t rows = 0;
  std::vector<std::optional<std::string>> values;  // rows x per_row
};

// Rows kept pending per head and tuple, at most (then they are sent); rows per statement, at
// most (and at most 65535 parameters, the protocol's limit).
constexpr std::size_t max_rows_per_insert = 1024;
constexpr std::size_t max_rows_per_statement = 256;

struct StatementCache {
  std::unordered_map<std::string, std::string> names;  // statement text -> prepared name
  std::vector<std::string> unconfirmed;                // prepared in the open pipeline
  unsigned long next = 0;
  std::vector<PendingRows> pending;  // send_row()'s, in the order of their first row
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

namespace {

void enter_pipeline(PGconn* conn) {
  if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn) != 1)
    throw Error("cannot enter pipeline mode: " + trimmed(PQerrorMessage(conn)));
}

void send_one(PGconn* conn, const std::string& statement, const TextParams& params) {
  const std::string* name = prepared_name(conn, statement);
  const int sent = name != nullptr
                       ? PQsendQueryPrepared(conn, name->c_str(), params.size(),
                                             params.pointers.data(), nullptr, nullptr, 0)
                       : PQsendQueryParams(conn, statement.c_str(), params.size(), nullptr,
                                           params.pointers.data(), nullptr, nullptr, 0);
  if (sent != 1)
    throw Error("cannot send a statement to the database: " + trimmed(PQerrorMessage(conn)));
}

// `head` VALUES `tuple`, `tuple`, ... for `rows` rows, with the $k of the r-th copy renumbered
// to $(r * per_row + k).
std::string multi_row_insert(const PendingRows& p, std::size_t rows) {
  std::string sql = p.head + " VALUES ";
  for (std::size_t r = 0; r < rows; ++r) {
    if (r > 0) sql += ", ";
    const std::string_view t = p.tuple;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '$' && i + 1 < t.size() && t[i + 1] >= '1' && t[i + 1] <= '9') {
        std::size_t k = 0;
        while (i + 1 < t.size() && t[i + 1] >= '0' && t[i + 1] <= '9')
          k = k * 10 + static_cast<std::size_t>(t[++i] - '0');
        sql += '$' + std::to_string(r * p.per_row + k);
      } else {
        sql += t[i];
      }
    }
  }
  return sql;
}

// The rows as statements of 2^k rows each, largest first (at most max_rows_per_statement), so
// that a handful of statement texts per head and tuple cover every count and stay prepared.
void send_rows(PGconn* conn, const PendingRows& p) {
  std::size_t done = 0;
  while (done < p.rows) {
    std::size_t n = 1;
    while (n * 2 <= p.rows - done && n * 2 <= max_rows_per_statement) n *= 2;
    const auto first = p.values.begin() + static_cast<std::ptrdiff_t>(done * p.per_row);
    std::vector<Database::Param> params(first, first + static_cast<std::ptrdiff_t>(n * p.per_row));
    send_one(conn, multi_row_insert(p, n), TextParams(params));
    done += n;
  }
}

// Sends every pending row (as one statement per head and tuple), in order.
void flush_rows(PGconn* conn) {
  StatementCache* cache = cache_of(conn);
  if (cache == nullptr || cache->pending.empty()) return;
  std::vector<PendingRows> pending = std::move(cache->pending);
  cache->pending.clear();
  for (const PendingRows& p : pending) send_rows(conn, p);
}

}  // namespace

void send_statement(PGconn* conn, const std::string& statement, const TextParams& params) {
  enter_pipeline(conn);
  flush_rows(conn);  // rows queued before this statement go before it
  send_one(conn, statement, params);
}

void send_row(PGconn* conn, std::string_view head, std::string_view tuple,
              std::span<const Database::Param> params) {
  if (params.empty() || params.size() > 65535)
    throw Error("send_row: a row needs 1..65535 parameters");
  enter_pipeline(conn);
  StatementCache* cache = cache_of(conn);
  const auto one_row = [&] {
    PendingRows p{std::string(head), std::string(tuple), params.size(), 1, {}};
    p.values.assign(params.begin(), params.end());
    return p;
  };
  if (cache == nullptr) {  // no place to keep rows: sent at once
    flush_rows(conn);
    send_rows(conn, one_row());
    return;
  }
  auto it = std::find_if(cache->pending.begin(), cache->pending.end(), [&](const PendingRows& p) {
    return p.head == head && p.tuple == tuple && p.per_row == params.size();
  });
  if (it == cache->pending.end()) {
    cache->pending.push_back(one_row());
    it = cache->pending.end() - 1;
  } else {
    it->values.insert(it->values.end(), params.begin(), params.end());
    ++it->rows;
  }
  const std::size_t max_rows = std::min(max_rows_per_insert, 65535 / params.size());
  if (it->rows >= max_rows) {  // a full statement goes now (the pending rows stay bounded)
    PendingRows full = std::move(*it);
    cache->pending.erase(it);
    send_rows(conn, full);
  }
}

void discard_rows(PGconn* conn) {
  if (StatementCache* cache = cache_of(conn)) cache->pending.clear();
}

std::optional<Error> finish_pipeline(PGconn* conn, ResultPtr* last) {
  const auto lost = [conn] {
    return Error("lost the database connection: " + trimmed(PQerrorMessage(conn)));
  };
  flush_rows(conn);
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
