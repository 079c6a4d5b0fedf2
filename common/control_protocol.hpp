// What both control-interface clients (the blocking ControlClient of control_client.hpp and the
// asynchronous control_async of control_async.hpp) share of SPEC §7: where the scheduler is
// (its Unix socket first, then TCP `listen`:`port`), the `auth <token>` line a TCP connection
// sends first, the error when neither place answers, and the reading of replies (lines up to
// `end` or `CLOSE`, bounded in line length and in lines).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"

namespace jobctl {

// The scheduler cannot be reached, or broke the protocol.
class ControlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether a reply line reports an error.
bool is_error_line(const std::string& line);

// One place the control interface may listen on.
struct ControlPlace {
  bool unix_socket = true;
  std::string path;  // the socket's path (unix_socket)
  std::string host;  // TCP host and port (otherwise)
  int port = 0;
  // "unix:/path" or "tcp:host:port", for messages.
  std::string where() const;
};

// The places of `config` in the order to try them: the socket (when set), then TCP (when a
// port is set).
std::vector<ControlPlace> control_places(const sched::Config& config);

// The line to send first on a connection to `place` ("" when none): `auth <token>` over TCP
// when the conf has an auth_token.
std::string auth_line(const sched::Config& config, const ControlPlace& place);

// The error when no place could be connected to; `tried` holds each place with why it failed,
// `conf_dir` is where the places came from.
std::string unreachable_message(const std::string& conf_dir,
                                const std::vector<std::pair<ControlPlace, std::string>>& tried);

// Reads replies from the bytes a connection delivers, one command's reply after the other.
class ReplyParser {
 public:
  static constexpr std::size_t kMaxLine = 64 * 1024;
  static constexpr std::size_t kMaxLines = 1'000'000;

  explicit ReplyParser(std::string where) : where_(std::move(where)) {}
  void append(std::string_view bytes);
  // The next complete reply: its lines without `received` and the final `end` / `CLOSE`;
  // error lines (`ERROR: ...`, `Invalid command: ...`) as they are. An `ERROR` line before
  // `received` ends the reply (authentication: no `end` follows). nullopt while incomplete.
  // Throws ControlError (naming where) for a line over kMaxLine or more than kMaxLines lines.
  std::optional<std::vector<std::string>> next();

 private:
  std::string where_;
  std::string buffer_;
  std::size_t start_ = 0;           // where the unread part of buffer_ begins
  std::vector<std::string> lines_;  // of the reply being read
  bool received_ = false;
};

}  // namespace jobctl
