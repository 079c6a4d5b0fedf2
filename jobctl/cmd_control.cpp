// jobctl kill, pause, restart, priority, verbose, reload: control commands on the scheduler.
#include <iostream>

#include <fmt/format.h>

#include "context.hpp"
#include "output.hpp"

namespace jobctl {

namespace {

// Quotes a message for the control interface's word splitting (g_shell_parse_argv).
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int send(Context& ctx, const std::string& line, const std::string& done) {
  auto reply = control(ctx, line);
  if (ctx.json) {
    std::cout << Json{{"command", line}, {"reply", reply}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& l : reply) std::cout << l << "\n";
  std::cout << done << "\n";
  return 0;
}

std::string jq(const po::variables_map& vm) {
  return std::to_string(vm["jq"].as<long long>());
}

po::options_description step_options(bool message, bool number) {
  po::options_description o("options");
  o.add_options()("jq", po::value<long long>()->required(), "the step (jq_pk)");
  if (message)
    o.add_options()("message,m", po::value<std::string>()->default_value("killed by jobctl"),
                    "why (jq_endtext becomes 'killed: <message>')");
  if (number) o.add_options()("n", po::value<int>()->required(), "the new value");
  return o;
}

}  // namespace

void add_control_commands(std::vector<Command>& out) {
  out.push_back({"kill",
                 "Kill a step's agents and fail it ('killed: <message>').",
                 "kill <jq> [message]",
                 [] { return step_options(true, false); },
                 {{"jq", 1}, {"message", 1}},
                 [](Context& ctx, const po::variables_map& vm) {
                   return send(ctx,
                               "kill " + jq(vm) + " " + quoted(vm["message"].as<std::string>()),
                               "step " + jq(vm) + " killed");
                 }});
  out.push_back({"pause",
                 "Pause a step: its agents are stopped and hold no slot.",
                 "pause <jq>",
                 [] { return step_options(false, false); },
                 {{"jq", 1}},
                 [](Context& ctx, const po::variables_map& vm) {
                   return send(ctx, "pause " + jq(vm), "step " + jq(vm) + " paused");
                 }});
  out.push_back({"restart",
                 "Restart a paused step.",
                 "restart <jq>",
                 [] { return step_options(false, false); },
                 {{"jq", 1}},
                 [](Context& ctx, const po::variables_map& vm) {
                   return send(ctx, "restart " + jq(vm), "step " + jq(vm) + " restarted");
                 }});
  out.push_back({"priority",
                 "Change the priority of a step's job.",
                 "priority <jq> <n>",
                 [] { return step_options(false, true); },
                 {{"jq", 1}, {"n", 1}},
                 [](Context& ctx, const po::variables_map& vm) {
                   auto n = std::to_string(vm["n"].as<int>());
                   return send(ctx, "priority " + jq(vm) + " " + n,
                               "step " + jq(vm) + ": priority " + n);
                 }});
  out.push_back({"verbose",
                 "Set the scheduler's log level, or one step's agents' (FOSSology "
                 "agents).",
                 "verbose [jq] <n>",
                 [] {
                   po::options_description o("options");
                   o.add_options()("values", po::value<std::vector<int>>()->required(),
                                   "[jq] level");
                   return o;
                 },
                 {{"values", 2}},
                 [](Context& ctx, const po::variables_map& vm) {
                   auto v = vm["values"].as<std::vector<int>>();
                   std::string line = v.size() == 1 ? fmt::format("verbose {}", v[0])
                                                    : fmt::format("verbose {} {}", v[0], v[1]);
                   return send(ctx, line, "verbose level set");
                 }});
  out.push_back({"reload",
                 "Reload the scheduler's configuration (like SIGHUP).",
                 "reload",
                 [] { return po::options_description("options"); },
                 {},
                 [](Context& ctx, const po::variables_map&) {
                   return send(ctx, "reload", "configuration reloaded");
                 }});
}

}  // namespace jobctl
