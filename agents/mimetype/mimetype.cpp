// mimetype: the MIME type agent (SPEC §9, docs/agents.md). For each file it asks libmagic for
// the MIME type, adds the name to `mimetype` when new and sets pfile.pfile_mimetypefk.
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>

#include "magic_cookie.hpp"
#include "scanner.hpp"

namespace {

mimetype::MagicCookie& cookie() {
  static mimetype::MagicCookie c;  // loaded once, on first use
  return c;
}

// mimetype_pk of names whose row was already committed. A pk of a row this transaction
// inserted is not kept: the transaction may still roll back (PostgreSQL aborts a group to break
// a deadlock, and libagent runs it again), and the pk would then name no row.
std::unordered_map<std::string, std::string>& committed_types() {
  static std::unordered_map<std::string, std::string> types;
  return types;
}

std::string mimetype_pk(agent::Database& db, const std::string& type) {
  auto& cache = committed_types();
  if (auto it = cache.find(type); it != cache.end()) return it->second;
  const agent::Result ins = db.exec(
      "INSERT INTO mimetype (mimetype_name) VALUES ($1) ON CONFLICT DO NOTHING "
      "RETURNING mimetype_pk",
      {type});
  if (ins.rows() == 1) return ins.get(0, 0);
  // A conflict: with a row another transaction committed (ON CONFLICT waited for it, and this
  // new statement's snapshot sees it), or with one this transaction inserted before (its xmin
  // is this transaction's id; xmin holds the id's low 32 bits).
  const agent::Result row = db.exec(
      "SELECT mimetype_pk, "
      "xmin::text::bigint = pg_current_xact_id_if_assigned()::text::bigint % 4294967296 "
      "FROM mimetype WHERE mimetype_name = $1",
      {type});
  const std::string pk = row.get(0, 0);
  if (row.get(0, 1) != "t") cache.emplace(type, pk);
  return pk;
}

void store(agent::Session&, agent::Database& db, int, const std::string& pfile_pk,
           const std::string& path) {
  const std::string type = scanner::to_text(cookie().type_of(path));
  // Queued: sent with the next statement or the group's COMMIT (Database::send()).
  db.send("UPDATE pfile SET pfile_mimetypefk = $1 WHERE pfile_pk = $2",
          {mimetype_pk(db, type), pfile_pk});
}

void print(const std::string& path) {
  std::printf("%s: %s\n", path.c_str(), cookie().type_of(path).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return scanner::run(argc, argv,
                      {"mimetype", "1", "MIME types by libmagic", nullptr, store, print});
}
