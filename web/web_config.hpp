// WebConfig: the [web] group of <confdir>/scheduler.conf (SPEC §5.4, docs/web.md), read with
// the scheduler's key-file reader so that every problem is one "<path>:<line>: [web] key: ..."
// ConfigError. Pure apart from reading the file.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace web {

struct WebConfig {
  std::string listen = "127.0.0.1";  // an IP address or "localhost"
  int port = 24694;
  std::string password;                   // "" = none (then only a loopback listen)
  std::vector<std::string> upload_roots;  // absolute; server paths must lie inside one
  std::string upload_dir;  // where archives sent from a browser are kept (default: first root)
  std::size_t upload_limit = 256u << 20;  // bytes of one request body (upload_limit in MiB)
};

// Reads [web] of <conf_dir>/scheduler.conf; absent keys keep their defaults. Throws
// sched::ConfigError naming file:line.
WebConfig load_web_config(const std::string& conf_dir);

// Whether `address` (an IP literal or "localhost") is a loopback address.
bool is_loopback(const std::string& address);

}  // namespace web
