// Recovery at startup (SPEC §4): steps a previous scheduler started and never ended (it was
// killed) are queued again — their agents, if still alive on this machine, are killed first —
// and with --reset every unfinished step, paused ones included, starts over. Runs before the
// loop, holding the database's scheduler lock, so no other scheduler owns those steps.
#pragma once

#include <optional>
#include <string>

#include "config.hpp"
#include "database.hpp"

namespace sched {

// Returns how many steps were queued again; throws std::runtime_error on a database error.
int recover_steps(Database& db, const Config& config, bool reset);

// The bytes of a file such as /proc/<pid>/cmdline (NULs kept), or nullopt when it cannot be
// opened or read — e.g. a process that exits while it is read (the read fails with ESRCH).
std::optional<std::string> read_file(const std::string& path);

}  // namespace sched
