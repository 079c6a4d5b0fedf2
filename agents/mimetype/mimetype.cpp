// mimetype: the MIME type agent (SPEC §9, docs/agents.md). For each file it asks libmagic for
// the MIME type, adds the name to `mimetype` when new and sets pfile.pfile_mimetypefk.
#include <cstdio>
#include <memory>
#include <string>

#include "magic_cookie.hpp"
#include "scanner.hpp"

namespace {

mimetype::MagicCookie& cookie() {
  static mimetype::MagicCookie c;  // loaded once, on first use
  return c;
}

void store(agent::Session&, agent::Database& db, int, const std::string& pfile_pk,
           const std::string& path) {
  const std::string type = scanner::to_text(cookie().type_of(path));
  db.exec("INSERT INTO mimetype (mimetype_name) VALUES ($1) ON CONFLICT DO NOTHING", {type});
  db.exec(
      "UPDATE pfile SET pfile_mimetypefk = (SELECT mimetype_pk FROM mimetype WHERE "
      "mimetype_name = $1) WHERE pfile_pk = $2",
      {type, pfile_pk});
}

void print(const std::string& path) {
  std::printf("%s: %s\n", path.c_str(), cookie().type_of(path).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return scanner::run(argc, argv,
                      {"mimetype", "1", "MIME types by libmagic", nullptr, store, print});
}
