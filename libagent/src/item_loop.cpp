// The KILL-safe item loop: read a group of items (only those already received), mark them
// done in one statement, run the handler for the new ones, commit (the handlers' queued
// statements and the COMMIT in one round trip), and only then acknowledge them (OK per item).
// Round trips per group: BEGIN + marking, then the queued writes + COMMIT; plus one per
// db.exec() a handler makes.
#include "agent/item_loop.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace agent {
namespace {

using Clock = std::chrono::steady_clock;

// Handler time a group should not exceed by much: the per-group cost (about a millisecond)
// stays around 1% of it, and a kill loses at most that much work (plus one item).
constexpr std::chrono::duration<double> group_budget = std::chrono::milliseconds(100);

// Hex text per marking statement, at most (items are up to 64 KiB each): a larger group is
// marked by several statements.
constexpr std::size_t max_mark_bytes = 1 << 20;

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

// The two forms of the marking statement, in hash order (so that two loops marking overlapping
// groups take their row locks in the same order and cannot deadlock). The plain INSERT is for
// the common case, a group of new items: the server does not look for a conflict first nor
// return anything, which makes it cheaper per item (benchmark g: ~15% of the backend's work).
// It fails (23505) when any item was done before (a group fed again after a kill, a re-run),
// and the group is then marked again with the ON CONFLICT form, which returns the new ones.
constexpr const char* mark_all_new_sql =
    "INSERT INTO agent_item_done (agent_fk, scope, item_hash, item) "
    "SELECT $1::integer, $2::text, sha256(b), b "
    "FROM unnest($3::text[]) AS t (h), decode(h, 'hex') AS b ORDER BY 3";
constexpr const char* mark_new_sql =
    "INSERT INTO agent_item_done (agent_fk, scope, item_hash, item) "
    "SELECT $1::integer, $2::text, sha256(b), b "
    "FROM unnest($3::text[]) AS t (h), decode(h, 'hex') AS b ORDER BY 3 "
    "ON CONFLICT (agent_fk, scope, item_hash) DO NOTHING RETURNING encode(item, 'hex')";

enum class Marking {
  kAllNew,    // the plain INSERT: every item is new, or the statement fails
  kSkipDone,  // ON CONFLICT DO NOTHING: items done before are skipped
};

// Marks the items done inside the open transaction. fresh[i] is set when items[i] was not
// done before. An item marked by a concurrent transaction makes this wait for it, then count
// as already done. The items must be distinct: the statement returns the new ones
// (hex-encoded), which are found again by their hex text. Returns false, with the transaction
// failed, when `marking` is kAllNew and an item was done before.
bool mark_done(Database& db, int agent_pk, std::string_view scope,
               const std::vector<const std::string*>& items, Marking marking,
               std::vector<bool>& fresh) {
  fresh.assign(items.size(), marking == Marking::kAllNew);
  const std::string pk = std::to_string(agent_pk);
  for (std::size_t first = 0; first < items.size();) {
    std::unordered_map<std::string, std::size_t> by_hex;
    std::string array = "{";
    std::size_t last = first;
    while (last < items.size() && (last == first || array.size() < max_mark_bytes)) {
      std::string h = hex(*items[last]);
      if (last > first) array += ',';
      array += '"' + h + '"';
      if (marking == Marking::kSkipDone) by_hex.emplace(std::move(h), last);
      ++last;
    }
    array += '}';
    first = last;
    if (marking == Marking::kAllNew) {
      try {
        db.exec(mark_all_new_sql, {pk, scope, array});
      } catch (const Error& e) {
        if (e.sqlstate() == "23505") return false;  // unique_violation: an item was done
        throw;
      }
      continue;
    }
    const Result r = db.exec(mark_new_sql, {pk, scope, array});
    for (int row = 0; row < r.rows(); ++row) {
      const auto it = by_hex.find(r.get(row, 0));
      if (it == by_hex.end()) throw Error("ItemLoop: the database marked an item not sent");
      fresh[it->second] = true;
    }
  }
  return true;
}

// How many times a group aborted by a deadlock or serialization conflict is run in all.
constexpr int kConflictAttempts = 5;

// BEGIN (queued: it goes with the marking statement) on construction; ROLLBACK on destruction
// unless committed.
class GroupTransaction {
 public:
  explicit GroupTransaction(Database& db) : db_(db) { db_.send("BEGIN"); }
  ~GroupTransaction() {
    if (!open_) return;
    try {
      db_.rollback();
    } catch (const Error&) {
      // The connection is broken; the server rolls back on its own.
    }
  }
  GroupTransaction(const GroupTransaction&) = delete;
  GroupTransaction& operator=(const GroupTransaction&) = delete;

  void commit() {
    db_.commit();
    open_ = false;
  }

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace

// How the next group is taken, from the groups before: how many items it may take (a moving
// average of the handler time per item against group_budget; the first group is not limited),
// and whether its items are likely all new (then it is marked with the plain INSERT).
struct ItemLoop::Pace {
  double seconds_per_item = -1;  // < 0: no handler has run yet
  Marking marking = Marking::kAllNew;

  std::size_t limit(std::size_t group) const {
    if (seconds_per_item <= 0) return group;
    const double n = group_budget.count() / seconds_per_item;
    if (n >= static_cast<double>(group)) return group;
    return std::max<std::size_t>(1, static_cast<std::size_t>(n));
  }

  void record(std::size_t handled, std::chrono::duration<double> spent) {
    if (handled == 0) return;
    const double per_item = spent.count() / static_cast<double>(handled);
    seconds_per_item = seconds_per_item < 0 ? per_item : 0.7 * seconds_per_item + 0.3 * per_item;
  }
};

ItemLoop::ItemLoop(Session& session, Database& db, ItemLoopOptions options)
    : session_(session), db_(db), options_(std::move(options)) {
  if (options_.agent_pk <= 0) throw Error("ItemLoop: agent_pk is not set");
  if (options_.group == 0) options_.group = 1;
}

ItemLoop::Stats ItemLoop::run(const Handler& handler) {
  // A group can only fill from lines in flight: ask for two groups' worth, so that the next
  // group arrives while this one is handled.
  if (session_.window() < options_.group) {
    try {
      session_.set_window(
          static_cast<unsigned>(std::min<std::size_t>(2 * options_.group, protocol::max_window)));
    } catch (const Error&) {
      // ready() was already called: the window is the agent's choice.
    }
  }
  Stats stats;
  Pace pace;
  session_.ready();
  while (process_group(handler, stats, pace) > 0) {
  }
  return stats;
}

std::size_t ItemLoop::process_group(const Handler& handler, Stats& stats, Pace& pace) {
  if (session_.hangup()) return 0;
  std::optional<std::string> first = session_.read(true);
  if (!first) return 0;
  std::vector<std::string> items;
  items.push_back(std::move(*first));
  // Only what has already arrived: a group never waits for more lines.
  const std::size_t limit = pace.limit(options_.group);
  while (items.size() < limit) {
    std::optional<std::string> more = session_.read(false);
    if (!more) break;
    items.push_back(std::move(*more));
  }

  // An item twice in a group: the first one counts, the second is already done.
  std::vector<const std::string*> distinct;
  std::vector<std::size_t> index;  // items[i] is distinct[index[i]], or npos for a repeat
  {
    std::unordered_set<std::string_view> seen;
    for (const std::string& item : items) {
      const bool is_new = seen.insert(item).second;
      index.push_back(is_new ? distinct.size() : std::string::npos);
      if (is_new) distinct.push_back(&item);
    }
  }

  // PostgreSQL may abort the group to break a deadlock or a serialization conflict (agents of
  // one step inserting the same new rows, e.g. a mime type name, in other orders): it is rolled
  // back and run again, handler and all (a handler must already bear being run again for an
  // item whose group did not commit: that is what a kill leaves).
  Stats group;
  for (int attempt = 1;;) {
    group = Stats{};
    try {
      GroupTransaction tx(db_);
      std::vector<bool> fresh;
      if (!mark_done(db_, options_.agent_pk, options_.scope, distinct, pace.marking, fresh)) {
        pace.marking = Marking::kSkipDone;  // rolled back; marked again, skipping done items
        continue;
      }
      // A group of new items only: the next one is likely new too (a run after a kill or a
      // re-run starts with items done before, then goes on with new ones).
      pace.marking = std::find(fresh.begin(), fresh.end(), false) == fresh.end()
                         ? Marking::kAllNew
                         : Marking::kSkipDone;
      const auto started = Clock::now();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (index[i] != std::string::npos && fresh[index[i]]) {
          handler(db_, items[i]);
          ++group.handled;
        } else {
          ++group.skipped;
        }
      }
      pace.record(group.handled, Clock::now() - started);
      tx.commit();
      break;
    } catch (const Error& e) {
      const bool conflict = e.sqlstate() == "40P01" || e.sqlstate() == "40001";
      if (!conflict || attempt == kConflictAttempts) throw;
      ++attempt;
    }
  }
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
