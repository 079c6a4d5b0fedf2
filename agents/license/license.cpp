// license: the license scanner agent (SPEC §9, docs/agents.md). For each file it stores the
// licenses license_detect finds, one `license_file` row each, referring to `license_ref` rows
// named by SPDX id. At start it fills license_ref with every id of the SPDX list (once per
// database; later starts insert nothing), so reports can list the known licenses.
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "license_detect.hpp"
#include "scanner.hpp"

namespace {

// rf_pk of the SPDX list's ids, read at start (committed rows, so they stay valid).
std::unordered_map<std::string, std::string> known_refs;

void prepare(agent::Database& db, int) {
  const auto& spdx = license::SpdxList::builtin();
  // Two parallel lists, one id or name a line (neither holds a line break).
  std::string ids, names;
  for (const auto& [low, id] : spdx.licenses()) {
    (void)low;
    const std::string_view full = license::full_name(id);
    ids += id + "\n";
    names += (full.empty() ? id : std::string(full)) + "\n";
  }
  db.exec(
      "INSERT INTO license_ref (rf_shortname, rf_fullname) SELECT * FROM "
      "unnest(string_to_array(rtrim($1, E'\\n'), E'\\n'), "
      "string_to_array(rtrim($2, E'\\n'), E'\\n')) ON CONFLICT (rf_shortname) DO NOTHING",
      {ids, names});
  const agent::Result r = db.exec("SELECT rf_shortname, rf_pk FROM license_ref");
  for (int i = 0; i < r.rows(); ++i) known_refs.emplace(r.get(i, 0), r.get(i, 1));
}

// rf_pk of `id`, adding a license_ref row (inside the open transaction) when it has none.
std::string ref_of(agent::Database& db, const std::string& id) {
  if (auto it = known_refs.find(id); it != known_refs.end()) return it->second;
  db.exec(
      "INSERT INTO license_ref (rf_shortname, rf_fullname) VALUES ($1, $1) "
      "ON CONFLICT (rf_shortname) DO NOTHING",
      {id});
  return db.exec("SELECT rf_pk FROM license_ref WHERE rf_shortname = $1", {id}).get(0, 0);
}

void store(agent::Session& session, agent::Database& db, int agent_pk, const std::string& pfile_pk,
           const std::string& path) {
  const std::string text = scanner::read_file(path, scanner::max_scan_bytes);
  const license::Detection d = license::detect(text);
  for (const std::string& bad : d.unknown) {
    session.warning("pfile " + pfile_pk + ": '" + scanner::to_text(bad.substr(0, 100)) +
                    "' in an SPDX-License-Identifier is not an SPDX id; not reported");
  }
  const std::string agent_fk = std::to_string(agent_pk);
  std::vector<std::string> values;
  for (const license::Match& m : d.matches) {
    values.insert(values.end(), {ref_of(db, m.id), agent_fk, pfile_pk, std::to_string(m.start),
                                 std::to_string(m.end)});
  }
  scanner::insert_rows(db,
                       "INSERT INTO license_file (rf_fk, agent_fk, pfile_fk, rf_match_pct, "
                       "fl_start_byte, fl_end_byte)",
                       "($1::integer, $2::integer, $3::integer, 100, $4::bigint, $5::bigint)", 5,
                       values);
}

std::string_view source_name(license::Source s) {
  switch (s) {
    case license::Source::Tag:
      return "tag";
    case license::Source::Text:
      return "text";
    case license::Source::Notice:
      return "notice";
  }
  return "tag";
}

void print(const std::string& path) {
  const std::string text = scanner::read_file(path, scanner::max_scan_bytes);
  const license::Detection d = license::detect(text);
  for (const license::Match& m : d.matches) {
    std::printf("%s:%zu: %s (%.*s) [%zu,%zu)\n", path.c_str(), m.line, m.id.c_str(),
                static_cast<int>(source_name(m.source).size()), source_name(m.source).data(),
                m.start, m.end);
  }
  for (const std::string& bad : d.unknown)
    std::printf("%s: not an SPDX id: %s\n", path.c_str(), bad.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return scanner::run(
      argc, argv,
      {"license", "1", "SPDX tags and license texts and notices", prepare, store, print});
}
