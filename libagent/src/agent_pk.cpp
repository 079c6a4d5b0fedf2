// agent_pk(): get-or-create the `agent` row of (name, rev) without a race between instances.
#include "agent/agent_pk.hpp"

#include <string>

namespace agent {

int agent_pk(Database& db, std::string_view name, std::string_view rev, std::string_view desc) {
  if (name.empty()) throw Error("agent_pk: the agent name is empty");
  // A concurrent inserter of the same (name, rev) makes this wait for its commit and then do
  // nothing; the SELECT after it (a new snapshot) sees that row.
  Result inserted = db.exec(
      "INSERT INTO agent (agent_name, agent_rev, agent_desc) VALUES ($1, $2, $3) "
      "ON CONFLICT (agent_name, agent_rev) DO NOTHING RETURNING agent_pk",
      {name, rev, desc});
  if (inserted.rows() == 1) return std::stoi(inserted.get(0, 0));
  Result found =
      db.exec("SELECT agent_pk FROM agent WHERE agent_name = $1 AND agent_rev = $2", {name, rev});
  if (found.rows() != 1) {
    throw Error("agent_pk: the agent row of \"" + std::string(name) + "\" revision \"" +
                std::string(rev) + "\" was neither inserted nor found");
  }
  return std::stoi(found.get(0, 0));
}

}  // namespace agent
