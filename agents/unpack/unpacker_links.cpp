// Unpacker: symbolic links. A link is resolved lexically against the container it lives in
// (the uploaded directory, or the archive): an absolute target or one that climbs above the
// container's root points out and is refused. One that stays inside is registered once the
// whole container has been read, as a file with its target's content; links to links are
// followed (a few rounds); links to directories or to nothing are skipped with a warning.
#include <string>
#include <vector>

#include "unpacker.hpp"
#include "unpacker_pending.hpp"

namespace unpack {

bool Unpacker::resolve_link(const std::vector<std::string>& link_dir, const std::string& target,
                            std::vector<std::string>& out) const {
  if (target.empty() || target.front() == '/') return false;
  out = link_dir;
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t slash = target.find('/', start);
    if (slash == std::string::npos) slash = target.size();
    std::string part = target.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out.empty()) return false;  // above the container's root
      out.pop_back();
    } else {
      out.push_back(std::move(part));
    }
  }
  return true;
}

void Unpacker::settle_links(int root, std::vector<Pending>& links) {
  // Each round registers the links whose target is a file by now; a link to a link waits
  // for the round after its target's. Eight rounds: longer chains are not worth following.
  for (int round = 0; round < 8 && !links.empty(); ++round) {
    std::vector<Pending> waiting;
    bool progress = false;
    for (auto& l : links) {
      int n = root;
      for (const auto& part : l.target_parts) {
        n = tree_.find(n, part);
        if (n < 0) break;
      }
      if (n >= 0 && tree_.nodes()[static_cast<std::size_t>(n)].content < 0) {
        warn_("'" + l.where + "': symbolic link to directory '" + printable(l.target) +
              "' skipped");
        continue;
      }
      if (n < 0) {
        waiting.push_back(std::move(l));
        continue;
      }
      if (tree_.find(l.parent, l.name) >= 0) {
        warn_("'" + l.where + "': duplicate entry; the first one is kept");
        continue;
      }
      const Node& t = tree_.nodes()[static_cast<std::size_t>(n)];
      count_node(l.where);
      tree_.add(l.parent, l.name, t.mode & ~kBitContainer, t.content);
      progress = true;
    }
    links = std::move(waiting);
    if (!progress) break;
  }
  for (const auto& l : links)
    warn_("'" + l.where + "': symbolic link to '" + printable(l.target) +
          "': no such file in the upload; skipped");
  links.clear();
}

}  // namespace unpack
