// Whole-line writes with a write(2) loop (see writer.hpp).
#include "writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace agent::detail {

Writer::Result Writer::write_line(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (held_.empty()) return write_locked(line);
  held_.append(line);
  return flush_locked();
}

std::size_t Writer::hold(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (broken_.load(std::memory_order_relaxed)) return 0;
  held_.append(line);
  return ++held_calls_;
}

Writer::Result Writer::flush() {
  std::lock_guard lock(mutex_);
  return held_.empty() ? Result::Written : flush_locked();
}

Writer::Result Writer::flush_locked() {
  const Result result = write_locked(held_);
  held_.clear();  // keeps its capacity: a later hold() allocates nothing
  held_calls_ = 0;
  return result;
}

Writer::Result Writer::write_locked(std::string_view bytes) {
  if (broken_.load(std::memory_order_relaxed)) return Result::Broken;
  const char* data = bytes.data();
  std::size_t left = bytes.size();
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
