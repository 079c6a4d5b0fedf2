// The KILL-safe item loop (SPEC §8): items (data lines or SQL row lines) are handled in groups,
// each group inside one transaction that also writes every item's done-marker (table
// agent_item_done, keyed by agent_pk, scope and the item's SHA-256); the items are acknowledged
// to the scheduler only after the commit. So SIGKILL at any instant leaves all of an item or
// none of it, and items already done by this agent_pk are skipped when they are fed again: a
// re-run produces exactly the results of one clean run. Standalone runs use the same loop over
// the Session's items. docs/libagent.md ("The KILL-safe item loop") has the whole story.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/db.hpp"
#include "agent/session.hpp"

namespace agent {

// Items per transaction by default: a group's fixed cost (two round trips and a commit) is
// then at most about 10% of its items' own cost even for trivial handlers (benchmark g: 100
// was clearly faster than 64 on a loaded machine), while the window it needs (2 x group
// = 200 lines in flight) keeps an agent's share of a job small and bounded, and a kill or a
// failing item redoes at most one group (a group also holds at most ~0.1 s of handler time).
inline constexpr std::size_t default_group = 100;

struct ItemLoopOptions {
  int agent_pk = 0;   // whose done-markers (see agent_pk())
  std::string scope;  // "" = done once per agent revision; e.g. an upload pk to redo per upload
  // Items per transaction, at most (1 = a transaction per item). A group takes only lines
  // already received (it never waits to fill) and about 0.1 s of handler time (judged by the
  // items before). The loop asks the scheduler for WINDOW 2 x group (at most 1024) when the
  // Session's window is smaller than the group, unless ready() was already called.
  std::size_t group = default_group;
  bool report_items = true;  // send `ItemsProcessed <n>` after each commit
};

class ItemLoop {
 public:
  // Writes the item's results through `db`, inside the loop's open transaction. It must not
  // commit or roll back. Writes whose result it does not need should go through db.send():
  // they are sent with the group's COMMIT, in one round trip (db.exec() waits for each). An
  // exception rolls back the whole group (nothing of it is acknowledged) and leaves run() with
  // that exception.
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
  struct Pace;
  std::size_t process_group(const Handler& handler, Stats& stats, Pace& pace);

  Session& session_;
  Database& db_;
  ItemLoopOptions options_;
};

}  // namespace agent
