// Building an agent's command line; quoting for the remote shell with g_shell_quote.
#include "launch.hpp"

#include <glib.h>

#include <stdexcept>

namespace sched {

namespace {

std::vector<std::string> split_shell(const std::string& text) {
  int argc = 0;
  char** argv = nullptr;
  GError* err = nullptr;
  if (!g_shell_parse_argv(text.c_str(), &argc, &argv, &err)) {
    std::string why = err ? err->message : "cannot be split";
    g_clear_error(&err);
    throw std::invalid_argument("jq_cmd_args: " + why);
  }
  std::vector<std::string> out(argv, argv + argc);
  g_strfreev(argv);
  return out;
}

std::string quote(const std::string& s) {
  char* q = g_shell_quote(s.c_str());
  std::string out(q);
  g_free(q);
  return out;
}

}  // namespace

Launch launch_for(const Config& config, const AgentType& type, const HostConfig& host,
                  const LaunchArgs& args) {
  std::string binary = type.binary(host);
  std::vector<std::string> cmd{binary};
  cmd.insert(cmd.end(), type.command.begin() + 1, type.command.end());
  cmd.push_back("--scheduler_start");
  cmd.push_back("--jobId=" + std::to_string(args.job_pk));
  cmd.push_back("--jqId=" + std::to_string(args.jq_pk));
  cmd.push_back("--config=" + (type.config_dir.empty() ? config.conf_dir : type.config_dir));
  cmd.push_back("--userID=" + std::to_string(args.user));
  cmd.push_back("--groupID=" + std::to_string(args.group));
  if (args.cmd_args && !args.cmd_args->empty())
    for (auto& w : split_shell(*args.cmd_args)) cmd.push_back(std::move(w));

  std::string dir = binary.substr(0, binary.rfind('/'));
  if (dir.empty()) dir = "/";
  if (host.local()) return {std::move(cmd), dir};
  std::string remote = "cd " + quote(dir) + " && exec";
  for (const auto& w : cmd) remote += " " + quote(w);
  std::vector<std::string> argv = config.ssh_command;
  argv.push_back(host.address);
  argv.push_back(remote);
  return {std::move(argv), ""};
}

}  // namespace sched
