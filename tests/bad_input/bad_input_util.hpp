// Helpers of the bad-input tables (tests/bad_input/): placeholders in a row's text, the
// message part of log lines ("<date> <time> <name> [<pid>] :: LEVEL: message") and the
// scheduler settings of the tables.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "scheduler_harness.hpp"

namespace test::bad_input {

// No table row is about a timeout: timeouts long enough that a loaded machine never hits one,
// and failing agents retried at once.
inline SchedulerSettings settings() {
  SchedulerSettings s;
  s.startup_timeout = 30;
  s.heartbeat_timeout = 30;
  s.kill_grace = 0.5;
  return s;
}

// `text` with every `{key}` replaced by its value, in the order given.
inline std::string fill(std::string text,
                        const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values) {
    const std::string token = "{" + key + "}";
    for (auto at = text.find(token); at != std::string::npos;
         at = text.find(token, at + value.size()))
      text.replace(at, token.size(), value);
  }
  return text;
}

// "LEVEL: message" of each log line (the part after " :: "), in order; other lines skipped.
inline std::vector<std::string> messages(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto at = line.find(" :: ");
    if (at != std::string::npos) out.push_back(line.substr(at + 4));
  }
  return out;
}

// The messages of `log` at one level ("WARNING"), without the "WARNING: " prefix.
inline std::vector<std::string> messages_at(const std::string& log, const std::string& level) {
  std::vector<std::string> out;
  for (const auto& m : messages(log))
    if (m.rfind(level + ": ", 0) == 0) out.push_back(m.substr(level.size() + 2));
  return out;
}

inline int count(const std::vector<std::string>& lines, const std::string& line) {
  int n = 0;
  for (const auto& l : lines) n += l == line ? 1 : 0;
  return n;
}

}  // namespace test::bad_input
