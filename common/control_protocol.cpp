// The control-interface protocol shared by both clients; see control_protocol.hpp.
#include "control_protocol.hpp"

#include <fmt/format.h>

namespace jobctl {

bool is_error_line(const std::string& line) {
  return line.rfind("ERROR", 0) == 0 || line.rfind("Invalid command", 0) == 0;
}

std::string ControlPlace::where() const {
  return unix_socket ? "unix:" + path : fmt::format("tcp:{}:{}", host, port);
}

std::vector<ControlPlace> control_places(const sched::Config& config) {
  std::vector<ControlPlace> out;
  if (!config.socket.empty()) out.push_back({true, config.socket, "", 0});
  if (config.port > 0) out.push_back({false, "", config.listen, config.port});
  return out;
}

std::string auth_line(const sched::Config& config, const ControlPlace& place) {
  return place.unix_socket || config.auth_token.empty() ? "" : "auth " + config.auth_token;
}

std::string unreachable_message(const std::string& conf_dir,
                                const std::vector<std::pair<ControlPlace, std::string>>& tried) {
  std::string list;
  for (const auto& [place, why] : tried)
    list += fmt::format(
        "{}{}: {}", list.empty() ? "" : "; ",
        place.unix_socket ? "socket " + place.path : fmt::format("{}:{}", place.host, place.port),
        why);
  return fmt::format("cannot reach the scheduler ({}); is it running with the conf dir {}?",
                     list.empty() ? "no socket or port configured" : list, conf_dir);
}

void ReplyParser::append(std::string_view bytes) {
  if (start_ > 0 && start_ >= buffer_.size() / 2) {  // drop what was read, now and then
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<std::vector<std::string>> ReplyParser::next() {
  for (;;) {
    auto nl = buffer_.find('\n', start_);
    std::size_t length = (nl == std::string::npos ? buffer_.size() : nl) - start_;
    if (length > kMaxLine)
      throw ControlError(fmt::format("{}: a reply line longer than {} bytes", where_, kMaxLine));
    if (nl == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(start_, length);
    start_ = nl + 1;
    bool last = line == "end" || line == "CLOSE";
    if (line == "received") {
      received_ = true;
    } else if (!last) {
      if (lines_.size() >= kMaxLines)
        throw ControlError(fmt::format("{}: a reply of more than {} lines", where_, kMaxLines));
      last = !received_ && line.rfind("ERROR", 0) == 0;
      lines_.push_back(std::move(line));
    }
    if (last) {
      received_ = false;
      return std::exchange(lines_, {});
    }
  }
}

}  // namespace jobctl
