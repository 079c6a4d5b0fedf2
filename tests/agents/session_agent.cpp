// session_agent: a test agent built on agent::Session, for tests/process/session_test.cpp.
// Built at ${CMAKE_BINARY_DIR}/tests/agents/session_agent/session_agent.
//
// usage: session_agent [scheduler options] [--sleep-ms=N] [--flood=N] [--heartbeat-ms=N]
//                      [--window=N] [--query=SQL] [--nonblocking-stdin] [--quiet] [items...]
// For each item: writes N log lines `flood <i>` (--flood), runs SQL through the scheduler and
// logs `row <i>: col=value ...` per row (`col=<null>` for NULL) or `db error: <message>` on
// agent::Error (--query), sleeps (--sleep-ms), logs `item <item>`, counts it (ItemsProcessed 1);
// with --quiet it writes nothing for an item, so that only the OKs are seen. Two items control
// the agent: `@wait <path>` waits until <path> exists, `@return` leaves the loop and main()
// with 0 at once (the Session's destructor runs).
// --nonblocking-stdin sets O_NONBLOCK on stdin first (the Session must still wait for lines).
// Exit 0 when the items end, 1 on an uncaught agent::Error, 64 on a bad option.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/session.hpp"

namespace {

struct Options {
  long sleep_ms = 0;
  long flood = 0;
  long heartbeat_ms = 30'000;
  long window = 1;
  bool nonblocking_stdin = false;
  bool quiet = false;
  std::string db;
  std::vector<std::string> items;
};

long number(std::string_view option, std::string_view text) {
  long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    throw agent::Error(std::string(option) + ": not a number");
  }
  return value;
}

// The agent's own options (the Session has already taken the scheduler's).
Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (name == "--sleep-ms")
      o.sleep_ms = number(name, value);
    else if (name == "--flood")
      o.flood = number(name, value);
    else if (name == "--heartbeat-ms")
      o.heartbeat_ms = number(name, value);
    else if (name == "--window")
      o.window = number(name, value);
    else if (name == "--query")
      o.db = std::string(value);
    else if (arg == "--nonblocking-stdin")
      o.nonblocking_stdin = true;
    else if (arg == "--quiet")
      o.quiet = true;
    else if (arg.substr(0, 2) == "--")
      throw agent::Error("unknown option " + std::string(arg));
    else
      o.items.emplace_back(arg);
  }
  return o;
}

void query(agent::Session& session, const std::string& sql) {
  try {
    const auto rows = session.db(sql);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::string text = "row " + std::to_string(i) + ":";
      for (const auto& field : rows[i].fields) {
        text += " " + field.name + "=" + (field.value ? *field.value : "<null>");
      }
      session.info(text);
    }
  } catch (const agent::Error& e) {
    session.error(std::string("db error: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Peek at the timing options first: they shape the Session itself.
  Options o;
  try {
    int peek_argc = argc;
    std::vector<char*> peek(argv, argv + argc + 1);
    (void)agent::take_scheduler_args(peek_argc, peek.data());
    o = parse_options(peek_argc, peek.data());
  } catch (const agent::Error& e) {
    std::fprintf(stderr, "session_agent: %s\n", e.what());
    return 64;
  }
  if (o.nonblocking_stdin && fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) != 0) {
    std::perror("session_agent: O_NONBLOCK on stdin");
    return 1;
  }
  try {
    agent::SessionOptions options;
    options.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
    options.window = static_cast<unsigned>(o.window);
    agent::Session session(argc, argv, options);
    session.set_items(o.items);
    while (auto item = session.next()) {
      if (*item == "@return") return 0;
      if (item->rfind("@wait ", 0) == 0) {
        while (access(item->c_str() + 6, F_OK) != 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      for (long i = 0; i < o.flood; ++i) session.info("flood " + std::to_string(i));
      if (!o.db.empty()) query(session, o.db);
      if (o.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.sleep_ms));
      if (o.quiet) continue;
      session.info("item " + *item);
      session.items_processed(1);
    }
    return 0;
  } catch (const agent::Error& e) {
    std::fprintf(stderr, "session_agent: %s\n", e.what());
    return 1;
  }
}
