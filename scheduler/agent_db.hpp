// AgentDb: runs agents' `DB:` statements (SPEC §2.1, §5.5) on a connection of its own, never
// on the scheduler's queue connection, with a statement timeout so that no agent can hold the
// database for long. Statements run one at a time in arrival order; each gets its rows back as
// row lines, or PostgreSQL's message. Session settings an agent makes are seen by the others.
// Owned by the Scheduler; connects on first use. A lost connection fails the requests in
// flight and queued (DBERROR <reason>: an agent's statement is never sent twice) and the next
// request connects again; the loss and the return are logged once each.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "database.hpp"

namespace sched {

class AgentDb {
 public:
  // `lines` holds the rows as row lines when `error` is empty.
  using Reply =
      std::function<void(const std::vector<std::string>& lines, const std::string& error)>;

  AgentDb(std::string conninfo, std::chrono::milliseconds statement_timeout);
  void run(const std::string& sql, Reply reply);

 private:
  std::string conninfo_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Database> db_;
  bool lost_ = false;  // the last connection broke or could not be made (logged once)
};

}  // namespace sched
