// Router: which host holds a row of an SQL-fed step (SPEC §5.2.1). The `[repository]` ranges
// map the first byte of the routing value (the jq_runonpfile column) to a host: the value's
// first two hex digits when it starts with two, else the first byte of the SHA-1 of the whole
// value. A NULL value, or a byte no range covers, has no holder: any host may take the row.
// Where ranges overlap, the first range in file order wins. Pure; owned by an SqlSource.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace sched {

class Router {
 public:
  explicit Router(std::vector<RepoRange> ranges);

  // The routing byte of a value: its first two hex digits, or the first byte of its SHA-1.
  static unsigned key_byte(std::string_view value);
  // The host holding `value`, or "" when no host holds it (NULL, or no range covers it).
  const std::string& holder(const std::optional<std::string_view>& value) const;
  // True when some range names a host (rows are bound to hosts).
  bool routes() const { return !ranges_.empty(); }
  // The hosts the ranges name, in file order, each once.
  std::vector<std::string> hosts() const;

 private:
  std::vector<RepoRange> ranges_;
  std::string none_;
};

}  // namespace sched
