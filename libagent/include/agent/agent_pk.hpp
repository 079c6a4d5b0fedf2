// agent_pk: the `agent` row of an agent revision (SPEC §4, §8; reference/fossology.md §7.3).
#pragma once

#include <string_view>

#include "agent/db.hpp"

namespace agent {

// Returns the agent_pk of (name, rev), creating the row with `desc` if there is none. Safe
// when many instances start at once on a fresh database: one row is created and every caller
// gets its pk (INSERT ... ON CONFLICT DO NOTHING, then SELECT). An existing row is returned
// as it is (its description and agent_enabled are not changed). Must not be called inside a
// REPEATABLE READ or SERIALIZABLE transaction. Throws agent::Error.
int agent_pk(Database& db, std::string_view name, std::string_view rev, std::string_view desc);

}  // namespace agent
