// JQ_SUBS substitution (SPEC §2.1): the text of an SQL-fed step's query with every occurrence
// of each key replaced by its value as a quoted SQL literal. One left-to-right pass: at each
// position the longest key that matches there is replaced, and replaced text is never scanned
// again (a value that contains another key stays as it is). Pure; the quoting comes from the
// caller (libpq's PQescapeLiteral through Database::literal).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sched {

using Substitutions = std::vector<std::pair<std::string, std::string>>;  // key, value; in order

std::string substitute(std::string_view text, const Substitutions& subs,
                       const std::function<std::string(std::string_view)>& quote);

}  // namespace sched
