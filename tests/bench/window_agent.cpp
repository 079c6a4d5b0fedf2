// window_agent: the bench's agent — the least a libagent agent can do. `window_agent
// [--window=N] [--items=M] [scheduler options] [items...]`: a Session with WINDOW N (default 1)
// and no heartbeat, which acknowledges every item and does nothing else, so that what is
// measured is the protocol through libagent and nothing of an agent's own. With --items=M it
// also reports its items as an agent showing progress would, `ItemsProcessed` once per M items
// and for the rest at the end (default 0: never).
// Standalone (no --scheduler_start) it takes its arguments as the items, like every agent.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "agent/session.hpp"

int main(int argc, char** argv) try {
  agent::SessionOptions options;
  options.heartbeat = std::chrono::milliseconds(0);
  std::uint64_t items_every = 0;
  std::vector<char*> rest;  // argv without our options, for the Session
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    const bool window = arg.rfind("--window=", 0) == 0, items = arg.rfind("--items=", 0) == 0;
    if (i == 0 || (!window && !items)) {
      rest.push_back(argv[i]);
      continue;
    }
    const std::string_view value = arg.substr(arg.find('=') + 1);
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || p != value.data() + value.size() ||
        (window && n > std::numeric_limits<unsigned>::max()))
      throw agent::Error("bad " + std::string(arg));
    if (window)
      options.window = static_cast<unsigned>(n);
    else
      items_every = n;
  }
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  agent::Session session(n, rest.data(), options);
  std::uint64_t unreported = 0;
  while (session.next()) {
    if (items_every > 0 && ++unreported == items_every) {
      session.items_processed(unreported);
      unreported = 0;
    }
  }
  if (unreported > 0) session.items_processed(unreported);
  return 0;
} catch (const agent::Error& e) {
  std::fprintf(stderr, "window_agent: %s\n", e.what());
  return 1;
}
