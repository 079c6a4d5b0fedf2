// Loading of the configuration (config.hpp). GKeyFile parses the files; a SourceMap of the
// same text gives every group and key its line, because GKeyFile reports none. Values are
// checked here with std::from_chars and range checks; each problem becomes one line
// "<path>:<line>: [group] key: <what is wrong>; expected <what>".
#include "config.hpp"

#include <glib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#ifndef JOBLINE_DEFAULT_LOG_DIR
#define JOBLINE_DEFAULT_LOG_DIR "/var/log/jobline"
#endif

namespace fs = std::filesystem;

namespace sched {
namespace {

constexpr double kMaxSeconds = 365.0 * 24 * 3600;  // a year: keeps milliseconds in range

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r\n\f\v";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<long long> parse_int(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<unsigned> parse_hex_byte(std::string_view s) {
  unsigned v = 0;
  if (s.size() != 2) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + 2, v, 16);
  if (ec != std::errc() || p != s.data() + 2) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string v(trim(s));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read the file: {}; expected a readable file", path,
                                  std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `value` as an absolute path: relative paths are taken relative to `base`.
std::string resolve(const std::string& base, const std::string& value) {
  if (value.empty() || fs::path(value).is_absolute()) return value;
  return (fs::path(base) / value).lexically_normal().string();
}

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
                  std::chrono::milliseconds& out, bool zero_ok) {
  auto v = r.string(g, k);
  if (!v) return;
  std::string expected = fmt::format("a number of seconds {} 0 (fractions allowed, at most {})",
                                     zero_ok ? ">=" : ">", static_cast<long long>(kMaxSeconds));
  auto secs = parse_number(*v);
  if (!secs) r.fail(g, k, fmt::format("'{}' is not a number", *v), expected);
  auto ms = std::llround(*secs * 1000.0);
  if (*secs < 0 || *secs > kMaxSeconds || (!zero_ok && ms <= 0)) {
    r.fail(g, k, fmt::format("'{}' is out of range", *v), expected);
  }
  out = std::chrono::milliseconds(ms);
}

int read_int(const Reader& r, const std::string& g, const std::string& k, std::string_view text,
             long long lo, long long hi) {
  std::string expected = hi == std::numeric_limits<int>::max()
                             ? fmt::format("an integer >= {}", lo)
                             : fmt::format("an integer from {} to {}", lo, hi);
  auto v = parse_int(text);
  if (!v) r.fail(g, k, fmt::format("'{}' is not an integer", text), expected);
  if (*v < lo || *v > hi) r.fail(g, k, fmt::format("'{}' is out of range", text), expected);
  return static_cast<int>(*v);
}

void read_int_key(const Reader& r, const std::string& g, const std::string& k, int& out,
                  long long lo, long long hi) {
  if (auto v = r.string(g, k)) out = read_int(r, g, k, *v, lo, hi);
}

std::vector<std::string> shell_split(const Reader& r, const std::string& g, const std::string& k,
                                     const std::string& text) {
  gint argc = 0;
  gchar** argv = nullptr;
  GError* raw = nullptr;
  if (!g_shell_parse_argv(text.c_str(), &argc, &argv, &raw)) {
    GErrorPtr err(raw);
    r.fail(g, k, fmt::format("'{}': {}", text, err->message),
           "a command line (words, \"quoted\" or 'quoted')");
  }
  std::unique_ptr<gchar*, StrvFree> own(argv);
  return std::vector<std::string>(argv, argv + argc);
}

// ---- scheduler.conf ---------------------------------------------------------------------

void load_scheduler_group(const Reader& r, Config& c) {
  const std::string g = "scheduler";
  if (auto v = r.string(g, "listen")) {
    if (trim(*v).empty()) r.fail(g, "listen", "empty", "an IP address or host name");
    c.listen = std::string(trim(*v));
  }
  read_int_key(r, g, "port", c.port, 1, 65535);
  if (auto v = r.string(g, "socket")) c.socket = resolve(c.conf_dir, *v);
  if (auto v = r.string(g, "log")) {
    c.log = (*v == "stdout" || *v == "stderr") ? *v : resolve(c.conf_dir, *v);
  }
  if (auto v = r.string(g, "log_dir")) c.log_dir = resolve(c.conf_dir, *v);
  read_seconds(r, g, "startup_timeout", c.startup_timeout, false);
  read_seconds(r, g, "heartbeat_timeout", c.heartbeat_timeout, false);
  read_seconds(r, g, "kill_grace", c.kill_grace, true);
  read_seconds(r, g, "poll_interval", c.poll_interval, false);
  read_int_key(r, g, "max_failures", c.max_failures, 1, std::numeric_limits<int>::max());
  if (auto v = r.string(g, "ssh_command")) {
    c.ssh_command = shell_split(r, g, "ssh_command", *v);
    if (c.ssh_command.empty()) {
      r.fail(g, "ssh_command", "empty", "a command such as 'ssh -o BatchMode=yes'");
    }
  }
  if (c.log_dir.empty()) {
    bool file = !c.log.empty() && c.log != "stdout" && c.log != "stderr";
    c.log_dir = file ? fs::path(c.log).parent_path().string() : JOBLINE_DEFAULT_LOG_DIR;
  }
}

void load_database(const Reader& r, Config& c) {
  if (auto v = r.string("database", "conninfo")) {
    c.conninfo = *v;
    c.conninfo_source = fmt::format("{}:{}", r.path(), r.map().key_line("database", "conninfo"));
    return;
  }
  std::string db_conf = c.conf_dir + "/Db.conf";
  if (fs::exists(db_conf)) {
    c.conninfo = parse_db_conf(read_file(db_conf), db_conf);
    c.conninfo_source = db_conf;
    return;
  }
  c.conninfo_source = "environment";
}

void load_hosts(const Reader& r, Config& c) {
  const std::string g = "hosts";
  const char* expected = "'address agentdir max', e.g. 'localhost /usr/lib/jobline/agents 8'";
  for (const auto& name : r.keys(g)) {
    auto fields = split_ws(*r.string(g, name));
    if (fields.size() != 3) {
      r.fail(g, name, fmt::format("{} field(s) instead of 3", fields.size()), expected);
    }
    if (!fs::path(fields[1]).is_absolute()) {
      r.fail(g, name, fmt::format("agent directory '{}' is not absolute", fields[1]),
             "an absolute directory as the second field");
    }
    HostConfig h{name, fields[0], fields[1], 0};
    h.max = read_int(r, g, name, fields[2], 0, std::numeric_limits<int>::max());
    c.hosts.push_back(std::move(h));
  }
  if (c.hosts.empty()) {
    r.fail(g, "", r.has_group(g) ? "no host defined" : "group missing, so no host defined",
           "at least one line 'name = address agentdir max' in [hosts]");
  }
}

void load_repository(const Reader& r, Config& c) {
  const std::string g = "repository";
  const char* expected = "'LO HI': two hex bytes 00..ff with LO <= HI, e.g. '00 7f'";
  for (const auto& host : r.keys(g)) {
    if (c.host(host) == nullptr) {
      r.fail(g, host, fmt::format("host '{}' is not in [hosts]", host), "a host named in [hosts]");
    }
    auto ranges = r.list(g, host).value_or(std::vector<std::string>{});
    if (ranges.empty()) r.fail(g, host, "empty", expected);
    for (const auto& range : ranges) {
      auto f = split_ws(range);
      auto lo = f.size() == 2 ? parse_hex_byte(f[0]) : std::nullopt;
      auto hi = f.size() == 2 ? parse_hex_byte(f[1]) : std::nullopt;
      if (!lo || !hi) r.fail(g, host, fmt::format("'{}' is not a range", range), expected);
      if (*lo > *hi) r.fail(g, host, fmt::format("'{}': LO is above HI", range), expected);
      c.repository.push_back({host, *lo, *hi});
    }
  }
}

// ---- agents/*.conf ----------------------------------------------------------------------

unsigned parse_special(const Reader& r, const std::string& g) {
  const char* expected = "a list of EXCLUSIVE, NOKILL, NOEMAIL, LOCAL";
  unsigned bits = 0;
  for (const auto& item : r.list(g, "special").value_or(std::vector<std::string>{})) {
    std::string words = item;
    std::replace(words.begin(), words.end(), ',', ' ');
    for (auto w : split_ws(words)) {
      std::transform(w.begin(), w.end(), w.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      if (w == "EXCLUSIVE")
        bits |= kExclusive;
      else if (w == "NOKILL")
        bits |= kNokill;
      else if (w == "NOEMAIL")
        bits |= kNoemail;
      else if (w == "LOCAL")
        bits |= kLocal;
      else
        r.fail(g, "special", fmt::format("unknown value '{}'", w), expected);
    }
  }
  return bits;
}

AgentType load_agent(const std::string& path, const std::string& name, const Config& c,
                     std::vector<std::string>& warnings) {
  Reader r(path);
  const std::string g = "default";
  if (!r.has_group(g)) {
    throw ConfigError(
        fmt::format("{}:{}: [default]: group missing; expected a [default] group "
                    "with at least 'command = ...'",
                    path, r.map().last_line()));
  }
  AgentType a;
  a.name = name;
  a.conf_path = path;
  a.config_dir = c.conf_dir;
  auto command = r.string(g, "command");
  if (!command) r.fail(g, "command", "missing", "'command = <binary> [arguments]'");
  a.command = shell_split(r, g, "command", *command);
  if (a.command.empty()) r.fail(g, "command", "empty", "'command = <binary> [arguments]'");
  read_int_key(r, g, "max", a.max, -1, std::numeric_limits<int>::max());
  a.special = parse_special(r, g);
  if (auto v = r.string(g, "allow_db")) {
    auto b = parse_bool(*v);
    if (!b) r.fail(g, "allow_db", fmt::format("'{}' is not a boolean", *v), "true or false");
    a.allow_db = *b;
  }
  if (auto v = r.string(g, "config_dir")) a.config_dir = resolve(c.conf_dir, *v);
  if (a.has(kLocal) &&
      std::none_of(c.hosts.begin(), c.hosts.end(), [](const HostConfig& h) { return h.local(); })) {
    r.fail(g, "special", "LOCAL but no host in [hosts] has the address 'localhost'",
           "a local host, or no LOCAL");
  }
  r.check_known(
      {{"default", {"command", "max", "special", "allow_db", "config_dir", "name", "description"}}},
      warnings);
  return a;
}

void load_agents(Config& c) {
  fs::path dir = fs::path(c.conf_dir) / "agents";
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".conf" && p.filename().string().front() != '.' &&
        it->is_regular_file(ec)) {
      files.push_back(p);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    c.warnings.push_back(fmt::format("{}: cannot list: {}; expected a readable directory",
                                     dir.string(), ec.message()));
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::string name = p.stem().string();
    std::vector<std::string> warnings;
    try {
      AgentType a = load_agent(p.string(), name, c, warnings);
      c.agents.emplace(name, std::move(a));
    } catch (const ConfigError& e) {
      warnings.push_back(fmt::format("{}; agent type '{}' left out", e.what(), name));
    }
    c.warnings.insert(c.warnings.end(), warnings.begin(), warnings.end());
  }
  if (c.agents.empty()) {
    c.warnings.push_back(
        fmt::format("{}: no agent type loaded; expected <name>.conf files", dir.string()));
  }
}

}  // namespace

std::string AgentType::binary(const HostConfig& host) const {
  const std::string& word = command.empty() ? name : command.front();
  if (fs::path(word).is_absolute()) return word;
  return (fs::path(host.agentdir) / name / word).string();
}

const HostConfig* Config::host(std::string_view name) const {
  auto it =
      std::find_if(hosts.begin(), hosts.end(), [&](const HostConfig& h) { return h.name == name; });
  return it == hosts.end() ? nullptr : &*it;
}

const AgentType* Config::agent(std::string_view name) const {
  auto it = agents.find(std::string(name));
  return it == agents.end() ? nullptr : &it->second;
}

std::string parse_db_conf(std::string_view text, const std::string& path) {
  std::vector<std::string> pairs;
  int n = 0;
  for (std::string_view rest = text; !rest.empty();) {
    auto nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    ++n;
    std::erase_if(line, [](unsigned char ch) { return std::isspace(ch) != 0; });
    if (line.empty() || line.front() == '#') continue;
    if (line.back() == ';') line.pop_back();
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || line.find(';') != std::string::npos) {
      throw ConfigError(
          fmt::format("{}:{}: '{}': not one key=value pair; expected "
                      "'key=value;', e.g. 'dbname=jobline;'",
                      path, n, line));
    }
    pairs.push_back(std::move(line));
  }
  return fmt::format("{}", fmt::join(pairs, " "));
}

Config load_config(const std::string& conf_dir) {
  Config c;
  c.conf_dir = fs::absolute(conf_dir).lexically_normal().string();
  if (c.conf_dir.size() > 1 && c.conf_dir.back() == '/') c.conf_dir.pop_back();
  Reader r(c.conf_dir + "/scheduler.conf");
  load_scheduler_group(r, c);
  load_database(r, c);
  load_hosts(r, c);
  load_repository(r, c);
  r.check_known(
      {{"scheduler",
        {"listen", "port", "socket", "log", "log_dir", "startup_timeout", "heartbeat_timeout",
         "kill_grace", "poll_interval", "max_failures", "ssh_command"}},
       {"database", {"conninfo"}},
       {"hosts", {}},
       {"repository", {}}},
      c.warnings);
  load_agents(c);
  return c;
}

}  // namespace sched
