// Where an agent's conninfo comes from (SPEC §8): --db, then FOSSology's Db.conf in the
// --config dir, then the PG* environment (an empty conninfo).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/db.hpp"

namespace agent {
namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// A libpq conninfo value in single quotes, with ' and \ escaped.
std::string quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

void append_array_element(std::string& literal, std::optional<std::string_view> value) {
  if (literal.size() > 1) literal += ',';
  if (!value) {
    literal += "NULL";
    return;
  }
  literal += '"';
  for (char c : *value) {
    if (c == '"' || c == '\\') literal += '\\';
    literal += c;
  }
  literal += '"';
}

std::string parse_db_conf(std::string_view text, std::string_view origin) {
  std::string conninfo;
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    if (line.back() == ';') line = trim(line.substr(0, line.size() - 1));
    const std::size_t eq = line.find('=');
    const std::string_view key = eq == std::string_view::npos ? line : trim(line.substr(0, eq));
    if (eq == std::string_view::npos || !valid_key(key)) {
      throw Error(std::string(origin) + ":" + std::to_string(number) + ": expected `key=value;`, " +
                  "not \"" + std::string(line) + "\"");
    }
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += std::string(key) + "=" + quoted(trim(line.substr(eq + 1)));
  }
  return conninfo;
}

std::string resolve_conninfo(const SchedulerArgs& args) {
  if (args.db) return *args.db;
  if (!args.config) return {};
  const std::string path = *args.config + "/Db.conf";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  std::ifstream in(path);
  if (!in) throw Error("cannot read \"" + path + "\": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_db_conf(text.str(), path);
}

}  // namespace agent
