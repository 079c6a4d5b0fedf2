// window_agent: the bench's agent — the least a libagent agent can do. `window_agent
// [--window=N] [scheduler options] [items...]`: a Session with WINDOW N (default 1) and no
// heartbeat, which acknowledges every item and does nothing else (not even ItemsProcessed),
// so that what is measured is the protocol through libagent and nothing of an agent's own.
// Standalone (no --scheduler_start) it takes its arguments as the items, like every agent.
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "agent/session.hpp"

int main(int argc, char** argv) try {
  agent::SessionOptions options;
  options.heartbeat = std::chrono::milliseconds(0);
  std::vector<char*> rest;  // argv without --window=N, for the Session
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i == 0 || arg.rfind("--window=", 0) != 0) {
      rest.push_back(argv[i]);
      continue;
    }
    unsigned n = 0;
    auto [p, ec] = std::from_chars(arg.data() + 9, arg.data() + arg.size(), n);
    if (ec != std::errc{} || p != arg.data() + arg.size()) throw agent::Error("bad --window");
    options.window = n;
  }
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  agent::Session session(n, rest.data(), options);
  while (session.next()) {
  }
  return 0;
} catch (const agent::Error& e) {
  std::fprintf(stderr, "window_agent: %s\n", e.what());
  return 1;
}
