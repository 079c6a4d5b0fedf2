// The one writer of an agent's protocol channel (stdout in scheduler mode, stderr for
// standalone logs). Owned by the Session and shared with the heartbeat thread. Invariant: every
// call writes whole lines under the mutex, looping over partial writes, so no two lines ever
// interleave; lines held back (hold()) go out in front of the next write, in the same write(2),
// so lines leave in the order of the calls; once a write fails with EPIPE the writer is broken
// and writes nothing more.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
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

  // Keeps `line` (whole lines) to go out in front of the next write_line() or flush(), from
  // any thread; writes nothing. Returns how many calls' lines are kept now (0 once broken:
  // nothing is kept then).
  std::size_t hold(std::string_view line);

  // Writes the lines kept, if any (none kept: no system call).
  Result flush();

  // True once a write failed: the other end has gone away.
  bool broken() const { return broken_.load(std::memory_order_acquire); }

 private:
  Result write_locked(std::string_view bytes);  // the mutex held
  Result flush_locked();                        // the mutex held, something kept

  int fd_;
  std::mutex mutex_;
  std::string held_;  // hold()'s lines, not written yet
  std::size_t held_calls_ = 0;
  std::atomic<bool> broken_{false};
};

}  // namespace agent::detail
