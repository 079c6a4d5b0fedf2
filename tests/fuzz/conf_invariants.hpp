// The properties of the configuration loader (common/config.hpp) for any files: checked by
// the libFuzzer target fuzz_conf and, over its seed corpus, by
// tests/bad_input/conf_corpus_test.cpp in every build. An input is up to three files separated
// by lines "%%": scheduler.conf, agents/fuzz.conf, Db.conf (absent when not given).
// Header-only, no gtest.
#pragma once

#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace fuzzcheck {

struct ConfFiles {
  std::vector<std::string> parts;  // scheduler.conf, agents/fuzz.conf, Db.conf: the given ones
};

// Splits at lines that are exactly "%%" (at most three parts; later "%%" lines stay in Db.conf).
inline ConfFiles split_conf_input(std::string_view bytes) {
  ConfFiles out{{std::string()}};
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl + 1);
    bytes.remove_prefix(line.size());
    if ((line == "%%\n" || line == "%%") && out.parts.size() < 3)
      out.parts.emplace_back();
    else
      out.parts.back() += line;
  }
  return out;
}

// Lines in a file of `text` (a final line without '\n' counts; an empty file has line 1).
inline int line_count(const std::string& text) {
  int n = 1;
  for (char c : text) n += c == '\n' ? 1 : 0;
  return n;
}

// "" when `message` is one line that starts with one of the files, followed by ": " or by
// ":<line>: " with the line inside that file; else what is wrong.
inline std::string where_violation(const std::string& message,
                                   const std::vector<std::pair<std::string, int>>& files) {
  if (message.find_first_of("\n\r") != std::string::npos) return "a message is one line";
  for (const auto& [path, lines] : files) {
    if (message.rfind(path, 0) != 0 || message.size() <= path.size()) continue;
    std::string_view rest = std::string_view(message).substr(path.size());
    if (rest.substr(0, 2) == ": ") return "";
    if (rest.front() != ':') continue;
    rest.remove_prefix(1);
    int line = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), line);
    if (ec != std::errc() || std::string_view(end, 2) != ": ") return "':<line>: ' after the file";
    if (line < 1 || line > lines) return "the line is inside the file";
    return "";
  }
  return "a message starts with the file it is about";
}

// The config's values are within their documented ranges.
inline std::string values_violation(const sched::Config& c) {
  if (c.hosts.empty()) return "at least one host";
  if (c.port < 1 || c.port > 65535) return "port in 1..65535";
  if (c.max_failures < 1) return "max_failures >= 1";
  if (c.startup_timeout.count() <= 0 || c.heartbeat_timeout.count() <= 0 ||
      c.poll_interval.count() <= 0 || c.kill_grace.count() < 0)
    return "timeouts in range";
  if (c.ssh_command.empty()) return "an ssh command";
  for (const auto& h : c.hosts)
    if (h.max < 0 || !std::filesystem::path(h.agentdir).is_absolute()) return "hosts in range";
  for (const auto& r : c.repository)
    if (r.lo > r.hi || r.hi > 255 || c.host(r.host) == nullptr) return "repository ranges";
  for (const auto& [name, a] : c.agents)
    if (a.command.empty() || a.max < -1) return "agent types have a command and max >= -1";
  return "";
}

// Writes the files of `bytes` into `dir` (an existing directory), loads it and returns "" when
// every property holds, else the first one violated.
inline std::string conf_violation(const std::string& conf_dir, std::string_view bytes) {
  namespace fs = std::filesystem;
  const std::string dir = fs::absolute(conf_dir).lexically_normal().string();
  const ConfFiles in = split_conf_input(bytes);
  const std::string names[] = {dir + "/scheduler.conf", dir + "/agents/fuzz.conf",
                               dir + "/Db.conf"};
  fs::create_directories(dir + "/agents");
  std::vector<std::pair<std::string, int>> files;
  for (std::size_t i = 0; i < 3; ++i) {
    std::error_code ec;
    fs::remove(names[i], ec);
    if (i >= in.parts.size()) continue;
    std::ofstream(names[i], std::ios::binary) << in.parts[i];
    files.emplace_back(names[i], line_count(in.parts[i]));
  }
  files.emplace_back(dir + "/agents", 1);  // "no agent type loaded" names the directory
  try {
    const sched::Config c = sched::load_config(dir);
    for (const auto& w : c.warnings)
      if (auto v = where_violation(w, files); !v.empty()) return "warning: " + v;
    if (in.parts.size() > 1 && c.agent("fuzz") == nullptr) {
      bool said = false;  // a type left out is said so
      for (const auto& w : c.warnings)
        said = said || (w.rfind(names[1], 0) == 0 &&
                        w.find("; agent type 'fuzz' left out") != std::string::npos);
      if (!said) return "an agent conf left out is reported";
    }
    return values_violation(c);
  } catch (const sched::ConfigError& e) {
    if (auto v = where_violation(e.what(), files); !v.empty()) return "error: " + v;
    return "";
  } catch (const std::exception& e) {
    return std::string("only ConfigError is thrown, not: ") + e.what();
  }
}

}  // namespace fuzzcheck
