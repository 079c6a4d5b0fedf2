// KeyFile reading for jobline's configuration files (scheduler.conf, agents/*.conf): GKeyFile
// parses the text, a SourceMap of the same text gives each group and key its line (GKeyFile
// reports none), and Reader turns every problem into one ConfigError line
// "<path>:<line>: [group] key: <what is wrong>; expected <what>". Pure apart from reading files.
#pragma once

#include <glib.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config.hpp"

namespace sched::keyfile {

inline constexpr double kMaxSeconds = 365.0 * 24 * 3600;  // a year: keeps milliseconds in range

std::string_view trim(std::string_view s);
// `text` with its control characters written as escapes (\n, \r, \xNN): one line.
std::string one_line(std::string_view text);
std::vector<std::string> split_ws(std::string_view s);
std::optional<long long> parse_int(std::string_view s);
std::optional<double> parse_number(std::string_view s);
std::optional<unsigned> parse_hex_byte(std::string_view s);  // two hex digits
std::optional<bool> parse_bool(std::string_view s);          // true/yes/1, false/no/0
// The whole file; throws ConfigError naming it when it cannot be read.
std::string read_file(const std::string& path);
// `value` as an absolute path: relative paths are taken relative to `base`.
std::string resolve(const std::string& base, const std::string& value);

// Where each group and key of a key file is, and the first line GKeyFile cannot parse.
class SourceMap {
 public:
  SourceMap(std::string path, std::string_view text) : path_(std::move(path)) {
    std::string group;
    int n = 0;
    for (std::string_view rest = text; !rest.empty() || n == 0;) {
      auto nl = rest.find('\n');
      std::string_view line = trim(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      ++n;
      if (line.empty() || line.front() == '#') continue;
      if (line.front() == '[' && line.back() == ']' && line.size() > 2) {
        group = std::string(line.substr(1, line.size() - 2));
        groups_.emplace(group, n);
        continue;
      }
      auto eq = line.find('=');
      std::string key(trim(line.substr(0, eq == std::string_view::npos ? 0 : eq)));
      if (eq == std::string_view::npos || key.empty() || group.empty()) {
        if (bad_line_ == 0) bad_line_ = n, bad_text_ = std::string(line);
        continue;
      }
      auto [it, fresh] = keys_.insert_or_assign({group, key}, n);
      if (!fresh) duplicates_.push_back({group, key, n});
    }
    last_line_ = n;
  }

  const std::string& path() const { return path_; }
  int last_line() const { return last_line_; }
  int group_line(const std::string& group) const {
    auto it = groups_.find(group);
    return it == groups_.end() ? last_line_ : it->second;
  }
  // The line of the occurrence GKeyFile keeps (the last); the group's line if absent.
  int key_line(const std::string& group, const std::string& key) const {
    auto it = keys_.find({group, key});
    return it == keys_.end() ? group_line(group) : it->second;
  }
  int bad_line() const { return bad_line_; }
  const std::string& bad_text() const { return bad_text_; }
  struct Duplicate {
    std::string group, key;
    int line;
  };
  const std::vector<Duplicate>& duplicates() const { return duplicates_; }

 private:
  std::string path_;
  std::map<std::string, int> groups_;
  std::map<std::pair<std::string, std::string>, int> keys_;
  std::vector<Duplicate> duplicates_;
  int last_line_ = 0;
  int bad_line_ = 0;
  std::string bad_text_;
};

struct KeyFileFree {
  void operator()(GKeyFile* k) const { g_key_file_free(k); }
};
struct GErrorFree {
  void operator()(GError* e) const { g_error_free(e); }
};
struct GFree {
  void operator()(void* p) const { g_free(p); }
};
struct StrvFree {
  void operator()(gchar** v) const { g_strfreev(v); }
};
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;

// A loaded key file with its SourceMap; fail() throws ConfigError with file:line.
class Reader {
 public:
  explicit Reader(const std::string& path) : Reader(path, read_file(path)) {}
  Reader(const std::string& path, const std::string& text)
      : map_(path, text), kf_(g_key_file_new()) {
    GError* raw = nullptr;
    if (!g_key_file_load_from_data(kf_.get(), text.data(), text.size(), G_KEY_FILE_NONE, &raw)) {
      GErrorPtr err(raw);
      int line = map_.bad_line() != 0 ? map_.bad_line() : 1;
      std::string what =
          map_.bad_line() != 0
              ? fmt::format("'{}' is not a comment, [group] or key = value", map_.bad_text())
              : std::string(err->message);
      throw ConfigError(
          fmt::format("{}:{}: syntax: {}; expected a GLib key file line", path, line, what));
    }
  }

  const SourceMap& map() const { return map_; }
  const std::string& path() const { return map_.path(); }
  bool has_group(const std::string& g) const { return g_key_file_has_group(kf_.get(), g.c_str()); }
  bool has_key(const std::string& g, const std::string& k) const {
    return g_key_file_has_key(kf_.get(), g.c_str(), k.c_str(), nullptr);
  }
  std::vector<std::string> groups() const {
    return to_vector(g_key_file_get_groups(kf_.get(), nullptr));
  }
  std::vector<std::string> keys(const std::string& g) const {
    return to_vector(g_key_file_get_keys(kf_.get(), g.c_str(), nullptr, nullptr));
  }

  // The value with GKeyFile's escapes (\s \n \t \\) resolved; nullopt when absent.
  std::optional<std::string> string(const std::string& g, const std::string& k) const {
    if (!has_key(g, k)) return std::nullopt;
    GError* raw = nullptr;
    std::unique_ptr<gchar, GFree> v(g_key_file_get_string(kf_.get(), g.c_str(), k.c_str(), &raw));
    if (!v) fail(g, k, GErrorPtr(raw)->message, "a valid key file value");
    return std::string(v.get());
  }
  // A GLib list (`a;b;c`); nullopt when absent.
  std::optional<std::vector<std::string>> list(const std::string& g, const std::string& k) const {
    if (!has_key(g, k)) return std::nullopt;
    GError* raw = nullptr;
    gchar** v = g_key_file_get_string_list(kf_.get(), g.c_str(), k.c_str(), nullptr, &raw);
    if (v == nullptr) fail(g, k, GErrorPtr(raw)->message, "a list of words");
    return to_vector(v);
  }

  std::string where(const std::string& g, const std::string& k) const {
    int line = k.empty() ? map_.group_line(g) : map_.key_line(g, k);
    return fmt::format("{}:{}: [{}]{}{}", path(), line, g, k.empty() ? "" : " ", k);
  }
  [[noreturn]] void fail(const std::string& g, const std::string& k, std::string_view what,
                         std::string_view expected) const {
    throw ConfigError(fmt::format("{}: {}; expected {}", where(g, k), what, expected));
  }

  // Warnings for unknown groups, unknown keys and duplicate keys.
  void check_known(const std::map<std::string, std::set<std::string>>& known,
                   std::vector<std::string>& warnings) const {
    for (const auto& g : groups()) {
      auto it = known.find(g);
      if (it == known.end()) {
        warnings.push_back(fmt::format("{}: unknown group, ignored; expected one of {}",
                                       where(g, ""), names(known)));
        continue;
      }
      if (it->second.empty()) continue;  // any key (e.g. [hosts])
      for (const auto& k : keys(g)) {
        if (it->second.count(k) != 0) continue;
        warnings.push_back(fmt::format("{}: unknown key, ignored; expected one of {}", where(g, k),
                                       fmt::join(it->second, ", ")));
      }
    }
    for (const auto& d : map_.duplicates()) {
      warnings.push_back(
          fmt::format("{}:{}: [{}] {}: key given more than once; expected it once "
                      "(this last one is used)",
                      path(), d.line, d.group, d.key));
    }
  }

 private:
  static std::vector<std::string> to_vector(gchar** v) {
    std::unique_ptr<gchar*, StrvFree> own(v);
    std::vector<std::string> out;
    for (gchar** p = v; p != nullptr && *p != nullptr; ++p) out.emplace_back(*p);
    return out;
  }
  static std::string names(const std::map<std::string, std::set<std::string>>& known) {
    std::vector<std::string> out;
    for (const auto& [g, keys] : known) out.push_back("[" + g + "]");
    return fmt::format("{}", fmt::join(out, ", "));
  }

  SourceMap map_;
  std::unique_ptr<GKeyFile, KeyFileFree> kf_;
};

// ---- value readers: absent keys leave `out` as it was -------------------------------------
void read_seconds(const Reader& r, const std::string& g, const std::string& k,
                  std::chrono::milliseconds& out, bool zero_ok);
int read_int(const Reader& r, const std::string& g, const std::string& k, std::string_view text,
             long long lo, long long hi);
void read_int_key(const Reader& r, const std::string& g, const std::string& k, int& out,
                  long long lo, long long hi);
// `text` split like a shell (g_shell_parse_argv); fails naming g/k when it cannot be.
std::vector<std::string> shell_split(const Reader& r, const std::string& g, const std::string& k,
                                     const std::string& text);

}  // namespace sched::keyfile
