// Buffered, bounded line input from a file descriptor (the agent's stdin), owned by the
// Session. Lines longer than protocol::max_line_bytes arrive cut (flagged); at EOF an
// unterminated last line is delivered as a line. Blocking and non-blocking reads share one
// buffer, so a poll never misses bytes that are already buffered.
#pragma once

#include <deque>
#include <optional>

#include "agent/protocol.hpp"

namespace agent::detail {

class LineInput {
 public:
  explicit LineInput(int fd) : fd_(fd) {}
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  using Line = protocol::LineSplitter::Line;

  // The next line. wait = true blocks until a line or EOF; wait = false returns only what is
  // available now (poll with a zero timeout). nullopt: EOF, or (wait = false) nothing yet.
  // Throws agent::Error when reading fails.
  std::optional<Line> next(bool wait);

  // A whole line is buffered: next() returns it without a system call.
  bool has_line() const { return !lines_.empty(); }

  // EOF was read and every buffered line was taken.
  bool at_eof() const { return eof_ && lines_.empty(); }

 private:
  // One read(2) into the splitter. Returns false when `wait` is false and nothing is readable.
  bool fill(bool wait);
  // poll(2) for input, EINTR retried: whether stdin is readable within timeout_ms (-1: wait).
  bool readable(int timeout_ms) const;

  int fd_;
  protocol::LineSplitter splitter_;
  std::deque<Line> lines_;
  bool eof_ = false;
};

}  // namespace agent::detail
