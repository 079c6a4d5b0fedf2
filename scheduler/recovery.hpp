// Recovery at startup (SPEC §4): steps a previous scheduler started and never ended (it was
// killed) are queued again — their agents, if still alive on this machine, are killed first —
// and with --reset every unfinished step, paused ones included, starts over. Runs before the
// loop, holding the database's scheduler lock, so no other scheduler owns those steps.
#pragma once

#include "config.hpp"
#include "database.hpp"

namespace sched {

// Returns how many steps were queued again; throws std::runtime_error on a database error.
int recover_steps(Database& db, const Config& config, bool reset);

}  // namespace sched
