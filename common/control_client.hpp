// ControlClient: one connection to the scheduler's control interface (SPEC §7), blocking, for
// command-line programs (a program with a GLib main loop uses control_async.hpp). It tries the
// places of control_protocol.hpp in order (the Unix socket of scheduler.conf, then TCP
// `listen`:`port`), sending `auth <token>` first over TCP when the conf has an auth_token.
// Replies are read up to `end` or `CLOSE`, bounded in lines, bytes and time.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config.hpp"
#include "control_protocol.hpp"

namespace jobctl {

class ControlClient {
 public:
  // Connects (socket first, then TCP); throws ControlError naming both places when neither
  // answers.
  explicit ControlClient(const sched::Config& config,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Sends one command and returns its reply lines without `received` and the final `end` /
  // `CLOSE`. Error lines (`ERROR: ...`, `Invalid command: ...`) are returned as they are.
  std::vector<std::string> command(const std::string& line);
  const std::string& where() const { return where_; }  // "unix:/path" or "tcp:host:port"

 private:
  void send(const std::string& line);
  std::vector<std::string> read_reply();

  int fd_ = -1;
  std::string where_;
  ReplyParser parser_{""};
  std::chrono::milliseconds timeout_;
};

}  // namespace jobctl
