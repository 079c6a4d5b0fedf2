// take_scheduler_args(): strips the options the scheduler passes to every agent (SPEC §5.3)
// out of argv, leaving argv[0] and the agent's own arguments in order. A `--` ends the
// scheduler's options; it and everything after it are left to the agent.
#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "agent/session.hpp"

namespace agent {
namespace {

enum class Kind { Flag, Number, Text };

struct OptionSpec {
  std::string_view name;  // with its dashes
  Kind kind;
};

constexpr OptionSpec kOptions[] = {
    {"--scheduler_start", Kind::Flag},
    {"--jobId", Kind::Number},
    {"--jqId", Kind::Number},
    {"--userID", Kind::Number},
    {"--groupID", Kind::Number},
    {"--config", Kind::Text},
    {"-c", Kind::Text},
    {"--db", Kind::Text},
};

long parse_number(std::string_view option, std::string_view text) {
  long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    throw Error("option " + std::string(option) + ": '" + std::string(text) + "' is not a number");
  }
  return value;
}

void store(SchedulerArgs& args, std::string_view option, std::string_view value) {
  if (option == "--jobId")
    args.job_id = parse_number(option, value);
  else if (option == "--jqId")
    args.jq_id = parse_number(option, value);
  else if (option == "--userID")
    args.user_id = parse_number(option, value);
  else if (option == "--groupID")
    args.group_id = parse_number(option, value);
  else if (option == "--db")
    args.db = std::string(value);
  else
    args.config = std::string(value);  // --config, -c
}

// Matches argv[i] against the scheduler's options. Returns how many argv entries it used
// (0 = not ours, 1 = `--opt`/`--opt=v`, 2 = `--opt v`).
int take_one(SchedulerArgs& args, int i, int argc, char** argv) {
  const std::string_view arg = argv[i];
  for (const OptionSpec& spec : kOptions) {
    if (arg.substr(0, spec.name.size()) != spec.name) continue;
    const std::string_view rest = arg.substr(spec.name.size());
    if (!rest.empty() && rest.front() != '=') continue;  // --jobIdx is somebody else's
    if (spec.kind == Kind::Flag) {
      if (!rest.empty()) throw Error("option " + std::string(spec.name) + " takes no value");
      args.scheduler_start = true;
      return 1;
    }
    if (!rest.empty()) {
      store(args, spec.name, rest.substr(1));
      return 1;
    }
    if (i + 1 >= argc) throw Error("option " + std::string(spec.name) + " needs a value");
    store(args, spec.name, argv[i + 1]);
    return 2;
  }
  return 0;
}

}  // namespace

SchedulerArgs take_scheduler_args(int& argc, char** argv) {
  SchedulerArgs args;
  int out = 1;
  int i = 1;
  while (i < argc) {
    if (std::strcmp(argv[i], "--") == 0) break;
    const int used = take_one(args, i, argc, argv);
    if (used == 0)
      argv[out++] = argv[i++];
    else
      i += used;
  }
  while (i < argc) argv[out++] = argv[i++];
  if (argc > 0) {
    argv[out] = nullptr;
    argc = out;
  }
  return args;
}

std::vector<std::string> own_args(int argc, char** argv) {
  std::vector<std::string> copy(argv, argv + argc);
  std::vector<char*> ptrs;
  for (auto& s : copy) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  int n = argc;
  (void)take_scheduler_args(n, ptrs.data());
  return std::vector<std::string>(ptrs.begin() + (n > 0 ? 1 : 0), ptrs.begin() + n);
}

}  // namespace agent
