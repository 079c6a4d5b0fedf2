// ControlClient: one connection to the scheduler's control interface (SPEC §7), blocking, for
// command-line programs. It prefers the Unix socket of scheduler.conf and falls back to TCP
// (`listen`:`port`), sending `auth <token>` first when the conf has an auth_token. Replies are
// read up to `end` or `CLOSE`, bounded in lines, bytes and time.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"

namespace jobctl {

// The scheduler cannot be reached, or broke the protocol.
class ControlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
  std::string read_line();

  int fd_ = -1;
  std::string where_;
  std::string buffer_;
  std::chrono::milliseconds timeout_;
};

// Whether a reply line reports an error.
bool is_error_line(const std::string& line);

}  // namespace jobctl
