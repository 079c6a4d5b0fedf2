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
  // To wait, read(2) itself blocks (stdin is a blocking pipe when the scheduler runs us): one
  // system call per wake-up, not a poll and then a read. Only a non-blocking stdin (EAGAIN)
  // needs the poll. Not waiting, the poll (zero timeout) comes first, so the read never blocks.
  if (!wait && !readable(0)) return false;
  std::array<char, 64 * 1024> buffer;
  ssize_t n = 0;
  for (;;) {
    n = ::read(fd_, buffer.data(), buffer.size());
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) break;
    // Non-blocking stdin, or another reader took the bytes: wait for more, or give up.
    if (!wait || !readable(-1)) return false;
  }
  if (n < 0 && errno == EBADF) n = 0;  // no stdin at all: treat as empty
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

bool LineInput::readable(int timeout_ms) const {
  pollfd pfd{fd_, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready >= 0) return ready > 0;
    if (errno != EINTR) throw Error(std::string("poll on stdin failed: ") + std::strerror(errno));
  }
}

}  // namespace agent::detail
