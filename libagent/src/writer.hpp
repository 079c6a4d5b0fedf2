// The one writer of an agent's protocol channel (stdout in scheduler mode, stderr for
// standalone logs). Owned by the Session and shared with the heartbeat thread. Invariant: every
// call writes one whole line under the mutex, looping over partial writes, so no two lines
// ever interleave; once a write fails with EPIPE the writer is broken and writes nothing more.
#pragma once

#include <atomic>
#include <mutex>
#include <string_view>

namespace agent::detail {

class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  enum class Result { Written, Broken };

  // Writes `line` (one or more whole lines: it must end in '\n') completely, in one piece. Returns
  // Broken when the reader is gone (EPIPE, now or earlier) or another write error occurred; the
  // line is then dropped. Thread safe; blocks while the pipe is full.
  Result write_line(std::string_view line);

  // True once a write failed: the other end has gone away.
  bool broken() const { return broken_.load(std::memory_order_acquire); }

 private:
  int fd_;
  std::mutex mutex_;
  std::atomic<bool> broken_{false};
};

}  // namespace agent::detail
