// Plugins (plugin.hpp): template variables, dependency checks, pipeline order.
#include "plugin.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config.hpp"

namespace sched {

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// Calls fn(position, name) for every `$name` in text.
void each_variable(const std::string& text,
                   const std::function<void(std::size_t, const std::string&)>& fn) {
  for (std::size_t i = text.find('$'); i != std::string::npos; i = text.find('$', i + 1)) {
    std::size_t end = i + 1;
    while (end < text.size() && word_char(text[end])) ++end;
    if (end > i + 1 && !std::isdigit(static_cast<unsigned char>(text[i + 1])))
      fn(i, text.substr(i + 1, end - i - 1));
  }
}

}  // namespace

std::string unknown_variable(const std::string& text, bool sql) {
  std::string bad;
  each_variable(text, [&](std::size_t, const std::string& name) {
    bool known = name == "upload" || name == "job" || (sql && name == "agent_pk");
    if (!known && bad.empty()) bad = "$" + name;
  });
  return bad;
}

std::string expand(const Plugin& plugin, const PluginValues& values) {
  std::string out;
  std::size_t from = 0;
  each_variable(plugin.args, [&](std::size_t at, const std::string& name) {
    if (name != "upload" && name != "job") return;
    out.append(plugin.args, from, at - from);
    out += std::to_string(name == "upload" ? values.upload : values.job);
    from = at + 1 + name.size();
  });
  out.append(plugin.args, from, std::string::npos);
  return out;
}

namespace {

// The chain from `name` that reaches an agent without a plugin or comes back to itself, or
// empty when its dependencies are sound.
std::vector<std::string> bad_chain(const std::map<std::string, AgentType>& agents,
                                   const std::string& name, std::vector<std::string>& path) {
  path.push_back(name);
  auto it = agents.find(name);
  if (it == agents.end() || !it->second.plugin) return path;
  for (const auto& dep : it->second.plugin->depends) {
    if (std::find(path.begin(), path.end(), dep) != path.end()) {
      path.push_back(dep);
      return path;
    }
    auto chain = bad_chain(agents, dep, path);
    if (!chain.empty()) return chain;
  }
  path.pop_back();
  return {};
}

}  // namespace

void check_plugins(std::map<std::string, AgentType>& agents, std::vector<std::string>& warnings) {
  // Leaving one out may break another: repeat until nothing changes.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [name, type] : agents) {
      if (!type.plugin) continue;
      std::vector<std::string> path;
      auto chain = bad_chain(agents, name, path);
      if (chain.empty()) continue;
      bool cycle = std::count(chain.begin(), chain.end(), chain.back()) > 1;
      std::string what =
          cycle ? fmt::format("dependency cycle {}", fmt::join(chain, " -> "))
                : fmt::format("depends on '{}', which is not an agent with a [plugin] group ({})",
                              chain.back(), fmt::join(chain, " -> "));
      warnings.push_back(fmt::format(
          "{}: [plugin] depends: {}; expected {}; plugin of '{}' left out", type.plugin->where,
          what, cycle ? "no cycle" : "agents that have a [plugin] group", name));
      type.plugin.reset();
      changed = true;
    }
  }
}

std::vector<std::string> pipeline_order(const std::map<std::string, AgentType>& agents,
                                        const std::vector<std::string>& names) {
  std::vector<std::string> order;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (std::find(order.begin(), order.end(), name) != order.end()) return;
    auto it = agents.find(name);
    if (it != agents.end() && it->second.plugin)
      for (const auto& dep : it->second.plugin->depends) visit(dep);
    order.push_back(name);
  };
  for (const auto& n : names) visit(n);
  return order;
}

}  // namespace sched
