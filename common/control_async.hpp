// control_async: the scheduler's control interface (SPEC §7) for programs that run a GLib main
// loop (jobline-web): GIO's asynchronous sockets on the default main context, so the loop never
// waits for the scheduler. Same places, order and authentication as the blocking ControlClient
// (control_protocol.hpp: the Unix socket, then TCP with `auth <token>` first); the whole
// exchange is bounded in time, and the reply in line length, lines and bytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "config.hpp"
#include "control_protocol.hpp"

namespace jobctl {

struct ControlResult {
  // "" when every command was answered; otherwise one line naming where it tried and why it
  // failed (the scheduler unreachable, no reply in time, a reply out of bounds).
  std::string error;
  std::string where;  // the place connected to ("unix:/path" or "tcp:host:port"), or ""
  // The reply of each command, in order (see ReplyParser::next); complete when ok().
  std::vector<std::vector<std::string>> replies;
  bool ok() const { return error.empty(); }
};

using ControlDone = std::function<void(ControlResult)>;

// The bound on all the reply bytes of one exchange.
constexpr std::size_t kMaxControlReplyBytes = 16u << 20;

// Sends `commands` one after the other on one connection and calls `done` once with the
// replies, from the main loop (never from inside this call), at the latest when `timeout` has
// passed since the call (connecting included). The exchange keeps itself alive until then.
void control_async(const sched::Config& config, std::vector<std::string> commands,
                   std::chrono::milliseconds timeout, ControlDone done);

}  // namespace jobctl
