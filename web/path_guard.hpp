// Server paths a browser may name for an upload: only inside one of [web] upload_roots. The
// path is resolved (realpath: `..` and every symlink followed) and must then lie inside a
// resolved root; a path with a `..` component is refused before that, whatever it resolves to.
#pragma once

#include <string>
#include <vector>

namespace web {

struct GuardedPath {
  std::string path;   // resolved, when ok
  std::string error;  // why it is refused, when not
  bool ok() const { return error.empty(); }
};

GuardedPath guard_path(const std::string& requested, const std::vector<std::string>& roots);

}  // namespace web
