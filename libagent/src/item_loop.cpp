// The KILL-safe item loop: read a group of items, handle them and write their done-markers
// in one transaction, commit, and only then acknowledge them (OK per item).
#include "agent/item_loop.hpp"

#include <string>
#include <vector>

namespace agent {
namespace {

// Items are any bytes but a parameter is text: they travel hex-encoded and become bytea.
std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// Marks the item done inside the open transaction; false when it already was. A concurrent
// transaction marking the same item makes this wait for it, then report "already done".
bool mark_done(Database& db, int agent_pk, std::string_view scope, std::string_view item) {
  return db.exec(
               "WITH i AS (SELECT decode($3, 'hex') AS b) "
               "INSERT INTO agent_item_done (agent_fk, scope, item_hash, item) "
               "SELECT $1, $2, sha256(b), b FROM i "
               "ON CONFLICT (agent_fk, scope, item_hash) DO NOTHING RETURNING 1",
               {std::to_string(agent_pk), scope, hex(item)})
             .rows() == 1;
}

}  // namespace

ItemLoop::ItemLoop(Session& session, Database& db, ItemLoopOptions options)
    : session_(session), db_(db), options_(std::move(options)) {
  if (options_.agent_pk <= 0) throw Error("ItemLoop: agent_pk is not set");
  if (options_.group == 0) options_.group = 1;
}

ItemLoop::Stats ItemLoop::run(const Handler& handler) {
  Stats stats;
  session_.ready();
  while (process_group(handler, stats) > 0) {
  }
  return stats;
}

std::size_t ItemLoop::process_group(const Handler& handler, Stats& stats) {
  if (session_.hangup()) return 0;
  std::optional<std::string> first = session_.read(true);
  if (!first) return 0;
  std::vector<std::string> items;
  items.push_back(std::move(*first));
  // Only what has already arrived: a group never waits for more lines.
  while (items.size() < options_.group) {
    std::optional<std::string> more = session_.read(false);
    if (!more) break;
    items.push_back(std::move(*more));
  }

  Stats group;
  Transaction tx(db_);
  for (const std::string& item : items) {
    if (mark_done(db_, options_.agent_pk, options_.scope, item)) {
      handler(db_, item);
      ++group.handled;
    } else {
      ++group.skipped;
    }
  }
  tx.commit();
  // Acknowledged only now: a kill before this line leaves the items to be fed again.
  if (options_.report_items) session_.items_processed(items.size());
  session_.ack(items.size());
  stats.handled += group.handled;
  stats.skipped += group.skipped;
  stats.transactions += 1;
  return items.size();
}

bool ItemLoop::done(Database& db, int agent_pk, std::string_view scope, std::string_view item) {
  return db.exec(
               "SELECT EXISTS (SELECT 1 FROM agent_item_done WHERE agent_fk = $1 AND scope = $2 "
               "AND item_hash = sha256(decode($3, 'hex')))",
               {std::to_string(agent_pk), scope, hex(item)})
             .get(0, 0) == "t";
}

}  // namespace agent
