// Agent run status bookkeeping (SPEC §8; reference/fossology.md §7.4): each agent records
// its runs over an upload in `<agent>_ars`, a table that INHERITS ars_master and is created
// on first use. A successful row for (agent_pk, upload) means "already done, skip it".
#pragma once

#include <string>
#include <string_view>

#include "agent/db.hpp"

namespace agent {

// "<agent_name>_ars". The name must match [a-z_][a-z0-9_]* and leave room for the suffix
// (at most 59 bytes); otherwise agent::Error.
std::string ars_table(std::string_view agent_name);

// Creates <agent>_ars if it does not exist (primary key, foreign keys to agent and upload).
// Safe when concurrent (a transaction-scoped advisory lock per table; inside the caller's
// transaction if one is open).
void ars_ensure_table(Database& db, std::string_view agent_name);

// True when this agent_pk has a successful run recorded for the upload.
bool ars_done(Database& db, std::string_view agent_name, int agent_pk, int upload_pk);

// Records the start of a run (ars_success = false) and returns its ars_pk.
int ars_start(Database& db, std::string_view agent_name, int agent_pk, int upload_pk);

// Records the end of run ars_pk: success, ars_status = status, ars_endtime = now().
// Throws agent::Error when no such run exists.
void ars_finish(Database& db, int ars_pk, bool success, std::string_view status);

}  // namespace agent
