// ars bookkeeping: <agent>_ars tables (INHERITS ars_master) created on demand, run start and
// end rows, and the "already done" check.
#include "agent/ars.hpp"

#include <string>

namespace agent {
namespace {

bool table_exists(Database& db, const std::string& quoted_name) {
  return !db.exec("SELECT to_regclass($1)", {quoted_name}).is_null(0, 0);
}

// After waiting for the lock, the catalog caches of this backend may not have seen the
// creator's commit yet (an advisory lock does not process invalidations), so to_regclass()
// could miss the table: pg_class is read as a table instead, with a fresh snapshot.
bool table_committed(Database& db, const std::string& table) {
  return db.exec(
               "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = $1 "
               "AND relnamespace = current_schema()::regnamespace)",
               {table})
             .get(0, 0) == "t";
}

void create_locked(Database& db, const std::string& table) {
  const std::string quoted = db.quote_identifier(table);
  db.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"jobline_ars:" + table});
  if (table_committed(db, table)) return;
  db.exec("CREATE TABLE " + quoted +
          " (PRIMARY KEY (ars_pk),"
          " FOREIGN KEY (agent_fk) REFERENCES agent (agent_pk),"
          " FOREIGN KEY (upload_fk) REFERENCES upload (upload_pk) ON DELETE CASCADE)"
          " INHERITS (ars_master)");
}

}  // namespace

std::string ars_table(std::string_view agent_name) {
  bool ok = !agent_name.empty() && agent_name.size() <= 59 &&
            !(agent_name.front() >= '0' && agent_name.front() <= '9');
  for (char c : agent_name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) {
    throw Error("invalid agent name for an ars table: \"" + std::string(agent_name) +
                "\" (expected [a-z_][a-z0-9_]*, at most 59 bytes)");
  }
  return std::string(agent_name) + "_ars";
}

void ars_ensure_table(Database& db, std::string_view agent_name) {
  const std::string table = ars_table(agent_name);
  if (table_exists(db, db.quote_identifier(table))) return;
  if (db.in_transaction()) {
    create_locked(db, table);  // the lock is held until the caller's transaction ends
    return;
  }
  Transaction tx(db);
  create_locked(db, table);
  tx.commit();
}

bool ars_done(Database& db, std::string_view agent_name, int agent_pk, int upload_pk) {
  const std::string quoted = db.quote_identifier(ars_table(agent_name));
  if (!table_exists(db, quoted)) return false;
  return db.exec("SELECT EXISTS (SELECT 1 FROM " + quoted +
                     " WHERE agent_fk = $1 AND upload_fk = $2 AND ars_success)",
                 {std::to_string(agent_pk), std::to_string(upload_pk)})
             .get(0, 0) == "t";
}

int ars_start(Database& db, std::string_view agent_name, int agent_pk, int upload_pk) {
  ars_ensure_table(db, agent_name);
  const std::string quoted = db.quote_identifier(ars_table(agent_name));
  Result r =
      db.exec("INSERT INTO " + quoted + " (agent_fk, upload_fk) VALUES ($1, $2) RETURNING ars_pk",
              {std::to_string(agent_pk), std::to_string(upload_pk)});
  return std::stoi(r.get(0, 0));
}

void ars_finish(Database& db, int ars_pk, bool success, std::string_view status) {
  // ars_pk is unique across every <agent>_ars (one shared sequence); UPDATE on the parent
  // reaches the child tables.
  Result r = db.exec(
      "UPDATE ars_master SET ars_success = $2, ars_status = $3, ars_endtime = now() "
      "WHERE ars_pk = $1",
      {std::to_string(ars_pk), success ? "true" : "false", status});
  if (r.affected() != 1) {
    throw Error("ars_finish: no agent run with ars_pk " + std::to_string(ars_pk));
  }
}

}  // namespace agent
