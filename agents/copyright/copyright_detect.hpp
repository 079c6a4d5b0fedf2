// The copyright detector: finds copyright statements (with their holders), e-mail addresses
// and URLs in a file's bytes. Pure: no I/O, no state; the agent (copyright.cpp) stores what it
// returns. Byte ranges are [start, end) offsets into the text; lines count from 1.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace copyright {

enum class Kind { Statement, Email, Url };

// "statement", "email" or "url" (copyright.type, SPEC §9).
std::string_view kind_name(Kind kind);

struct Finding {
  Kind kind = Kind::Statement;
  std::string content;  // the bytes of [start, end)
  std::string holder;   // statements: who holds it ("" when no name follows the years)
  std::size_t start = 0;
  std::size_t end = 0;
  std::size_t line = 0;  // line of `start`
  bool operator==(const Finding&) const = default;
};

// Everything found, ordered by start offset. A statement is the rest of the line from its
// keyword (`Copyright`, `©`, `(C)`) minus comment closers; phrases such as "copyright notice"
// or "copyright holders" are not statements. Statements are at most 1 KiB each.
std::vector<Finding> detect(std::string_view text);

}  // namespace copyright
