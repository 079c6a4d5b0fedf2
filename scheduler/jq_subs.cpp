// JQ_SUBS: one pass over the query text, longest key first at each position.
#include "jq_subs.hpp"

namespace sched {

std::string substitute(std::string_view text, const Substitutions& subs,
                       const std::function<std::string(std::string_view)>& quote) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::pair<std::string, std::string>* best = nullptr;
    for (const auto& s : subs) {
      if (s.first.empty() || s.first.size() > text.size() - i) continue;
      if (text.compare(i, s.first.size(), s.first) != 0) continue;
      if (!best || s.first.size() > best->first.size()) best = &s;
    }
    if (best) {
      out += quote(best->second);
      i += best->first.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace sched
