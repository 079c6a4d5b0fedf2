// The scheduler's configuration: scheduler.conf, Db.conf and agents/*.conf of one conf dir,
// loaded once into an immutable Config (HUP loads a new one and swaps it in). Loading is
// pure apart from reading files: it never logs; problems come back as ConfigError (fatal,
// scheduler.conf and Db.conf) or as lines in Config::warnings (an agent type left out, an
// unknown key). Every message names "<path>:<line>". Keys are documented in
// docs/configuration.md.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "plugin.hpp"

namespace sched {

// One [hosts] line: `name = address agentdir max`.
struct HostConfig {
  std::string name;
  std::string address;   // "localhost" = spawned by the scheduler itself, else over ssh
  std::string agentdir;  // absolute; agents are <agentdir>/<type>/<command[0]>
  int max = 0;           // agents at once on this host (0 = none: the host is drained)
  bool local() const { return address == "localhost"; }
};

// One [repository] range: the host holding the rows whose routing value starts with a
// byte in [lo, hi].
struct RepoRange {
  std::string host;
  unsigned lo = 0;
  unsigned hi = 255;  // first byte of the routing value, inclusive
};

// Bits of AgentType::special.
enum Special : unsigned {
  kExclusive = 1u << 0,  // waits until nothing runs, then runs alone
  kNokill = 1u << 1,     // never killed for silence (heartbeat timeout)
  kNoemail = 1u << 2,    // no notification for its jobs
  kLocal = 1u << 3,      // only on a host whose address is "localhost"
};

// One agents/<name>.conf.
struct AgentType {
  std::string name;                  // the conf file's base name
  std::vector<std::string> command;  // `command` split like a shell; [0] is the binary word
  int max = -1;                      // agents of this type at once; -1 = unlimited
  unsigned special = 0;              // Special bits
  bool allow_db = false;             // may use `DB:` lines
  std::string config_dir;            // passed as --config=; default: the scheduler's conf dir
  std::string conf_path;             // the file it came from
  std::optional<Plugin> plugin;      // its [plugin] group: how it is queued for an upload
  // The binary for a host: command[0] if absolute, else <agentdir>/<name>/<command[0]>.
  std::string binary(const HostConfig& host) const;
  bool has(Special bit) const { return (special & bit) != 0; }
};

struct Config {
  std::string conf_dir;  // absolute
  std::string listen = "127.0.0.1";
  std::string listen_where;  // "<path>:<line>" of `listen` ("" when not set: the default)
  int port = 24693;
  std::string socket;  // Unix socket path; "" = none
  // TCP control clients must first send `auth <token>`; "" = none (only with a loopback listen).
  std::string auth_token;
  // [scheduler] user: the user a scheduler started as root becomes once its sockets are bound
  // and its log is open ("" = stay as started). --user overrides it (in main).
  std::string user;
  std::string user_where;  // "<path>:<line>" of `user`
  std::string log;         // "stdout", "stderr", a file path, or "" (not set: stderr)
  std::chrono::milliseconds startup_timeout{60'000}, heartbeat_timeout{180'000}, kill_grace{5'000},
      poll_interval{30'000};
  int max_failures = 3;
  std::vector<std::string> ssh_command{"ssh", "-o", "BatchMode=yes"};
  // [database] conninfo, else Db.conf in the conf dir (FOSSology `key=value;` lines joined
  // with spaces), else "" (libpq's PG* environment). --db overrides all three (in main).
  std::string conninfo;
  std::string conninfo_source;  // "<path>:<line>", "<confdir>/Db.conf" or "environment"
  // Where per-step logs go (<log_dir>/jobs/<jq_pk>.log): [scheduler] log_dir, else the
  // directory of `log` when that is a file, else JOBLINE_DEFAULT_LOG_DIR (/var/log/jobline).
  std::string log_dir;
  std::vector<HostConfig> hosts;      // in file order; at least one
  std::vector<RepoRange> repository;  // empty = every host holds everything
  std::map<std::string, AgentType> agents;
  // One line per problem that did not stop the load: an agent conf left out ("...; agent
  // type '<name>' left out"), an unknown key or group, a duplicate key.
  // Format: "<path>:<line>: <what is wrong>; expected <what>[; ...]".
  std::vector<std::string> warnings;

  const HostConfig* host(std::string_view name) const;
  const AgentType* agent(std::string_view name) const;
};

// Always one line: control characters of the text (say a value's resolved `\n` escape) are
// written as escapes (\n, \r, \xNN).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& what);
};

// Loads everything; throws ConfigError with one line
// "<path>:<line>: <key or group>: <what is wrong>; expected <what>" for a bad
// scheduler.conf or Db.conf. A bad or missing-command agent conf is left out and reported
// in Config::warnings; the others load. Relative paths in the files (log, log_dir,
// socket, an agent's config_dir) are taken relative to the conf dir.
Config load_config(const std::string& conf_dir);

// The conf dir used when neither -c nor $JOBLINE_CONFIG is given (the install's).
std::string default_conf_dir();

// Resolves `listen` and checks that TCP control clients need `auth_token` when it is not a
// loopback address. Throws ConfigError naming scheduler.conf:<line> [scheduler] listen. Not
// part of load_config, which reads files only (this may ask DNS).
void check_listen(const Config& config);

// Db.conf text (FOSSology format) to a libpq conninfo string; throws ConfigError naming
// `path`:line for a line that is not `key=value;`.
std::string parse_db_conf(std::string_view text, const std::string& path);

}  // namespace sched
