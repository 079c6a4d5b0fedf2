// copyright: the copyright scanner agent (SPEC §9, docs/agents.md). For each file it stores the
// copyright statements (with their holders), e-mail addresses and URLs copyright_detect finds,
// one `copyright` row each, with md5(content) as FOSSology's `hash`.
#include <cstdio>
#include <string>
#include <vector>

#include "copyright_detect.hpp"
#include "scanner.hpp"

namespace {

void store(agent::Session&, agent::Database& db, int agent_pk, const std::string& pfile_pk,
           const std::string& path) {
  const std::string text = scanner::read_file(path, scanner::max_scan_bytes);
  const std::string agent_fk = std::to_string(agent_pk);
  std::vector<std::string> values;
  for (const copyright::Finding& f : copyright::detect(text)) {
    values.insert(values.end(), {agent_fk, pfile_pk, scanner::to_text(f.content),
                                 std::string(copyright::kind_name(f.kind)), std::to_string(f.start),
                                 std::to_string(f.end), scanner::to_text(f.holder)});
  }
  scanner::insert_rows(db,
                       "INSERT INTO copyright (agent_fk, pfile_fk, content, hash, type, "
                       "copy_startbyte, copy_endbyte, holder)",
                       "($1::integer, $2::integer, $3, md5($3), $4, $5::bigint, $6::bigint, "
                       "nullif($7, ''))",
                       7, values);
}

void print(const std::string& path) {
  const std::string text = scanner::read_file(path, scanner::max_scan_bytes);
  for (copyright::Finding f : copyright::detect(text)) {
    for (std::size_t i = 0; (i = f.content.find('\n', i)) != std::string::npos;)
      f.content.replace(i, 1, "\\n");
    std::printf("%s:%zu: %.*s [%zu,%zu) %s%s%s\n", path.c_str(), f.line,
                static_cast<int>(copyright::kind_name(f.kind).size()),
                copyright::kind_name(f.kind).data(), f.start, f.end, f.content.c_str(),
                f.holder.empty() ? "" : " | holder: ", f.holder.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  return scanner::run(
      argc, argv,
      {"copyright", "1", "copyright statements, e-mail addresses and URLs", nullptr, store, print});
}
