// Launching: the argv of an agent on a host (SPEC §5.3). Local hosts get the agent's own
// argv and its binary's directory as working directory; other hosts get `ssh_command`, the
// address and one remote shell command with every word quoted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"

namespace sched {

struct LaunchArgs {
  long long job_pk = 0;
  long long jq_pk = 0;
  long long user = 0;
  long long group = 0;
  std::optional<std::string> cmd_args;  // jq_cmd_args, split like a shell
};

struct Launch {
  std::vector<std::string> argv;
  std::string cwd;  // "" for remote hosts (ssh runs `cd <dir> && exec ...`)
};

// Throws std::invalid_argument ("jq_cmd_args: <why>") when cmd_args cannot be split.
Launch launch_for(const Config& config, const AgentType& type, const HostConfig& host,
                  const LaunchArgs& args);

}  // namespace sched
