// Plugin: how an agent is queued for an upload — the `[plugin]` group of its conf (FOSSology's
// "UI plugin" idea as configuration): a title, the agents it needs first, its data (a jq_args
// template, or an SQL template with the column that routes each row), whether it belongs to an
// upload's default pipeline, its priority. Loaded with the agent confs into the immutable
// Config; jobctl and jobline-web expand it into steps (docs/jobctl.md).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace sched {

struct AgentType;

struct Plugin {
  std::string title;
  std::vector<std::string> depends;  // agent names, each with a plugin of its own
  std::string args;                  // the jq_args template (SQL when `sql`)
  bool sql = false;                  // SQL-fed: args is a query, rows routed by runonpfile
  std::string runonpfile;            // the routing column of an SQL-fed plugin
  bool default_pipeline = false;     // queued by `jobctl upload`
  int priority = 0;
  std::string where;  // "<path>:<line>" of the [plugin] group, for messages
};

// What a template's variables stand for when a plugin is queued.
struct PluginValues {
  long long upload = 0;
  long long job = 0;
};

// The template with `$upload` and `$job` replaced (numbers, so safe in SQL as they are);
// `$agent_pk` stays for the agent's JQ_SUBS.
std::string expand(const Plugin& plugin, const PluginValues& values);

// The first variable of `text` a template may not use ("$foo"), or "" when all are known:
// $upload and $job, and in SQL also $agent_pk.
std::string unknown_variable(const std::string& text, bool sql);

// Leaves out the plugins whose dependencies are not agents with a plugin, or that sit on a
// dependency cycle, one warning each naming the chain ("a -> b -> a").
void check_plugins(std::map<std::string, AgentType>& agents, std::vector<std::string>& warnings);

// The agents `name` needs, dependencies first, each once (name last). Plugins are checked.
std::vector<std::string> pipeline_order(const std::map<std::string, AgentType>& agents,
                                        const std::vector<std::string>& names);

}  // namespace sched
