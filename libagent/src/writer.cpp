// Whole-line writes with a write(2) loop (see writer.hpp).
#include "writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace agent::detail {

Writer::Result Writer::write_line(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (broken_.load(std::memory_order_relaxed)) return Result::Broken;
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // EPIPE (reader gone), EBADF or EIO: either way nothing we write will arrive.
      broken_.store(true, std::memory_order_release);
      return Result::Broken;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  return Result::Written;
}

}  // namespace agent::detail
