// The KILL-safe item loop (SPEC §8): each item (a data line or an SQL row line) is handled
// inside a transaction that also writes the item's done-marker (table agent_item_done, keyed
// by agent_pk, scope and the item's SHA-256); the item is acknowledged to the scheduler only
// after the commit. So SIGKILL at any instant leaves all of an item or none of it, and items
// already done by this agent_pk are skipped when they are fed again: a re-run produces exactly
// the results of one clean run. Standalone runs use the same loop over the Session's items.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/db.hpp"
#include "agent/session.hpp"

namespace agent {

struct ItemLoopOptions {
  int agent_pk = 0;   // whose done-markers (see agent_pk())
  std::string scope;  // "" = done once per agent revision; e.g. an upload pk to redo per upload
  // Items per transaction, at most. More than 1 takes only lines already received (never
  // waits to fill a group); pair it with SessionOptions::window >= group so that the
  // scheduler keeps that many lines in flight.
  std::size_t group = 1;
  bool report_items = true;  // send `ItemsProcessed <n>` after each commit
};

class ItemLoop {
 public:
  // Writes the item's results through `db`, inside the loop's open transaction. It must not
  // commit or roll back. An exception rolls back the whole group (nothing of it is
  // acknowledged) and leaves run() with that exception.
  using Handler = std::function<void(Database& db, const std::string& item)>;

  struct Stats {
    std::uint64_t handled = 0;       // items whose handler ran and committed
    std::uint64_t skipped = 0;       // items already done before
    std::uint64_t transactions = 0;  // commits
  };

  ItemLoop(Session& session, Database& db, ItemLoopOptions options);

  // Processes items until there are no more (stdin EOF, the standalone items are used up, or
  // the scheduler is gone). Throws what the handler or the database throws.
  Stats run(const Handler& handler);

  // True when `item` is marked done for (agent_pk, scope).
  static bool done(Database& db, int agent_pk, std::string_view scope, std::string_view item);

 private:
  std::size_t process_group(const Handler& handler, Stats& stats);

  Session& session_;
  Database& db_;
  ItemLoopOptions options_;
};

}  // namespace agent
