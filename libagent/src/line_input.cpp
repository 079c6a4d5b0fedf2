// Bounded line input (see line_input.hpp).
#include "line_input.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "agent/session.hpp"

namespace agent::detail {

std::optional<LineInput::Line> LineInput::next(bool wait) {
  while (lines_.empty() && !eof_) {
    if (!fill(wait)) break;
  }
  if (lines_.empty()) return std::nullopt;
  Line line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

bool LineInput::fill(bool wait) {
  pollfd pfd{fd_, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, wait ? -1 : 0);
    if (ready > 0) break;
    if (ready == 0) return false;
    if (errno != EINTR) throw Error(std::string("poll on stdin failed: ") + std::strerror(errno));
  }
  std::array<char, 64 * 1024> buffer;
  ssize_t n = 0;
  do {
    n = ::read(fd_, buffer.data(), buffer.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return wait;  // raced with another reader; poll again
  if (n < 0 && errno == EBADF) n = 0;         // no stdin at all: treat as empty
  if (n < 0) throw Error(std::string("reading stdin failed: ") + std::strerror(errno));
  std::vector<Line> lines;
  if (n == 0) {
    eof_ = true;
    if (!splitter_.partial().empty()) lines.push_back(Line{std::string(splitter_.partial())});
    splitter_.clear_partial();
  } else {
    splitter_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), lines);
  }
  for (Line& line : lines) lines_.push_back(std::move(line));
  return true;
}

}  // namespace agent::detail
