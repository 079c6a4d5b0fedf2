// LineSplitter: frames a byte stream into '\n'-terminated lines with a buffer of at most
// max_bytes. The result does not depend on how the stream is cut into chunks: an overlong line
// is delivered once, as soon as its (max_bytes + 1)-th byte arrives, cut to max_bytes.
#include <string_view>
#include <vector>

#include "agent/protocol.hpp"

namespace agent::protocol {

void LineSplitter::feed(std::string_view bytes, std::vector<Line>& out) {
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const bool complete = newline != std::string_view::npos;
    const std::string_view piece = complete ? bytes.substr(0, newline) : bytes;
    bytes.remove_prefix(complete ? newline + 1 : bytes.size());

    if (discarding_) {  // the tail of a line already delivered cut
      if (complete) discarding_ = false;
      continue;
    }
    const std::size_t room = max_ - buf_.size();
    if (piece.size() > room) {
      buf_.append(piece.substr(0, room));
      out.push_back(Line{std::move(buf_), true});
      buf_.clear();
      discarding_ = !complete;
      continue;
    }
    buf_.append(piece);
    if (complete) {
      out.push_back(Line{std::move(buf_), false});
      buf_.clear();
    }
  }
}

}  // namespace agent::protocol
