// Upload roots; see path_guard.hpp.
#include "path_guard.hpp"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>

namespace web {
namespace {

std::string real(const std::string& p) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}

bool inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

}  // namespace

GuardedPath guard_path(const std::string& requested, const std::vector<std::string>& roots) {
  if (roots.empty()) return {"", "no upload_roots are configured in [web]"};
  if (requested.empty() || requested.front() != '/') return {"", "the path must be absolute"};
  if (requested.find('\0') != std::string::npos) return {"", "the path holds a NUL byte"};
  for (const auto& part : std::filesystem::path(requested))
    if (part == "..") return {"", "the path must not contain '..'"};
  std::string resolved = real(requested);
  if (resolved.empty()) return {"", "the path does not exist"};
  for (const auto& root : roots) {
    std::string r = real(root);
    if (!r.empty() && inside(resolved, r)) return {resolved, ""};
  }
  return {"", "the path is outside the upload roots"};
}

}  // namespace web
