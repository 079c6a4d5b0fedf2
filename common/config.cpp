// Loading of the configuration (config.hpp). GKeyFile parses the files; a SourceMap of the
// same text gives every group and key its line, because GKeyFile reports none. Values are
// checked here with std::from_chars and range checks; each problem becomes one line
// "<path>:<line>: [group] key: <what is wrong>; expected <what>".
#include "config.hpp"

#include "key_file.hpp"

#include <arpa/inet.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>

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

#ifndef JOBLINE_DEFAULT_CONF_DIR
#define JOBLINE_DEFAULT_CONF_DIR "/etc/jobline"
#endif
#ifndef JOBLINE_DEFAULT_LOG_DIR
#define JOBLINE_DEFAULT_LOG_DIR "/var/log/jobline"
#endif

namespace fs = std::filesystem;

namespace sched {
namespace {

using namespace keyfile;

// ---- scheduler.conf ---------------------------------------------------------------------

void load_scheduler_group(const Reader& r, Config& c) {
  const std::string g = "scheduler";
  if (auto v = r.string(g, "listen")) {
    if (trim(*v).empty()) r.fail(g, "listen", "empty", "an IP address or host name");
    c.listen = std::string(trim(*v));
    c.listen_where = fmt::format("{}:{}", r.path(), r.map().key_line(g, "listen"));
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
  if (auto v = r.string(g, "auth_token")) {
    c.auth_token = std::string(trim(*v));
    if (c.auth_token.empty())
      r.fail(g, "auth_token", "empty", "a secret that TCP clients send as 'auth <token>'");
    if (c.auth_token.find_first_of(" \t") != std::string::npos)
      r.fail(g, "auth_token", "holds a space or tab", "one word");
  }
  if (auto v = r.string(g, "user")) {
    c.user = std::string(trim(*v));
    if (c.user.empty()) r.fail(g, "user", "empty", "a user name, e.g. 'jobline'");
    c.user_where = fmt::format("{}:{}", r.path(), r.map().key_line(g, "user"));
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
      constexpr unsigned kBad = 256;  // (not std::optional: GCC 12 warns falsely)
      unsigned lo = f.size() == 2 ? parse_hex_byte(f[0]).value_or(kBad) : kBad;
      unsigned hi = f.size() == 2 ? parse_hex_byte(f[1]).value_or(kBad) : kBad;
      if (lo == kBad || hi == kBad)
        r.fail(g, host, fmt::format("'{}' is not a range", range), expected);
      if (lo > hi) r.fail(g, host, fmt::format("'{}': LO is above HI", range), expected);
      c.repository.push_back({host, lo, hi});
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

// The [plugin] group (plugin.hpp), or nullopt when there is none.
std::optional<Plugin> load_plugin(const Reader& r) {
  const std::string g = "plugin";
  if (!r.has_group(g)) return std::nullopt;
  Plugin p;
  p.where = fmt::format("{}:{}", r.path(), r.map().group_line(g));
  p.title = r.string(g, "title").value_or("");
  if (p.title.empty())
    r.fail(g, "title", "missing", "a title shown to people, e.g. 'License scanner'");
  p.depends = r.list(g, "depends").value_or(std::vector<std::string>{});
  auto args = r.string(g, "args");
  auto sql = r.string(g, "sql");
  const char* data = "either 'args = <jq_args template>' or 'sql = <query>' with 'runonpfile'";
  if (args && sql) r.fail(g, "sql", "given together with args", data);
  p.sql = sql.has_value();
  p.args = sql ? *sql : args.value_or("");
  p.runonpfile = r.string(g, "runonpfile").value_or("");
  if (p.sql && p.runonpfile.empty())
    r.fail(g, "runonpfile", "missing for an SQL plugin",
           "the column of the query that routes rows");
  if (!p.sql && !p.runonpfile.empty()) r.fail(g, "runonpfile", "given without sql", data);
  if (auto bad = unknown_variable(p.args, p.sql); !bad.empty())
    r.fail(g, p.sql ? "sql" : "args", fmt::format("unknown variable '{}'", bad),
           p.sql ? "only $upload, $job and $agent_pk" : "only $upload and $job");
  if (auto v = r.string(g, "default")) {
    auto b = parse_bool(*v);
    if (!b) r.fail(g, "default", fmt::format("'{}' is not a boolean", *v), "true or false");
    p.default_pipeline = *b;
  }
  read_int_key(r, g, "priority", p.priority, std::numeric_limits<int>::min() + 1,
               std::numeric_limits<int>::max());
  return p;
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
  a.plugin = load_plugin(r);
  r.check_known(
      {{"default", {"command", "max", "special", "allow_db", "config_dir", "name", "description"}},
       {"plugin", {"title", "depends", "args", "sql", "runonpfile", "default", "priority"}}},
      warnings);
  return a;
}

void load_agents(Config& c) {
  fs::path dir = fs::path(c.conf_dir) / "agents";
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();  // not a regular file: read_file says so, it is left out
    if (p.extension() == ".conf" && p.filename().string().front() != '.') files.push_back(p);
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
  check_plugins(c.agents, c.warnings);
  if (c.agents.empty()) {
    c.warnings.push_back(
        fmt::format("{}: no agent type loaded; expected <name>.conf files", dir.string()));
  }
}

}  // namespace

ConfigError::ConfigError(const std::string& what) : std::runtime_error(one_line(what)) {}

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

void check_listen(const Config& c) {
  std::string where = c.listen_where.empty() ? c.conf_dir + "/scheduler.conf" : c.listen_where;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(c.port);
  int rc = getaddrinfo(c.listen.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    throw ConfigError(fmt::format(
        "{}: [scheduler] listen: cannot resolve '{}': {}; expected an IP address or a host "
        "name that resolves",
        where, c.listen, gai_strerror(rc)));
  bool loopback = true;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      loopback = loopback && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      loopback = loopback && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    } else {
      loopback = false;
    }
  }
  freeaddrinfo(res);
  if (!loopback && c.auth_token.empty())
    throw ConfigError(fmt::format(
        "{}: [scheduler] listen: '{}' is not a loopback address and no auth_token is set; "
        "expected a loopback listen address (127.0.0.1, ::1, localhost) or [scheduler] "
        "auth_token",
        where, c.listen));
}

std::string parse_db_conf(std::string_view text, const std::string& path) {
  std::vector<std::string> pairs;
  int n = 0;
  for (std::string_view rest = text; !rest.empty();) {
    auto nl = rest.find('\n');
    std::string_view given = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    ++n;
    std::string line(given);
    std::erase_if(line, [](unsigned char ch) { return std::isspace(ch) != 0; });
    if (line.empty() || line.front() == '#') continue;
    if (line.back() == ';') line.pop_back();
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || line.find(';') != std::string::npos) {
      throw ConfigError(
          fmt::format("{}:{}: '{}': not one key=value pair; expected "
                      "'key=value;', e.g. 'dbname=jobline;'",
                      path, n, given));
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
         "kill_grace", "poll_interval", "max_failures", "ssh_command", "auth_token", "user"}},
       {"database", {"conninfo"}},
       {"hosts", {}},
       {"repository", {}},
       // jobline-web's group (web/web_config.cpp reads and checks it)
       {"web", {"listen", "port", "password", "upload_roots", "upload_dir", "upload_limit"}}},
      c.warnings);
  load_agents(c);
  for (auto& w : c.warnings) w = one_line(w);  // a key name may hold a '\r'
  return c;
}

std::string default_conf_dir() {
  return JOBLINE_DEFAULT_CONF_DIR;
}

}  // namespace sched
