// Unpacker: the entry point (a directory, an archive or a single file), the limits shared by
// every part, and the path rules for archive entries.
#include "unpacker.hpp"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "unpacker_pending.hpp"

namespace unpack {
namespace {

// An fd closed by the destructor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Unpacker::Unpacker(Store& store, Limits limits, Warn warn)
    : store_(store), limits_(limits), warn_(std::move(warn)) {}

Unpacker::~Unpacker() = default;

Tree Unpacker::unpack(const std::string& path) {
  tree_ = Tree();
  pending_.clear();
  total_ = 0;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Refused("'" + printable(path) + "': " + std::strerror(errno));
  std::string base = std::filesystem::path(path).filename().string();
  if (base.empty() || base == "." || base == "..")
    base = std::filesystem::path(path).lexically_normal().filename().string();
  if (base.empty()) base = "/";
  if (!g_utf8_validate(base.data(), static_cast<gssize>(base.size()), nullptr))
    throw Refused("'" + printable(path) + "': name is not valid UTF-8");
  const unsigned perms = static_cast<unsigned>(st.st_mode) & 07777u;
  if (S_ISDIR(st.st_mode)) {
    Fd dir{::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir.fd < 0) throw Refused("'" + printable(path) + "': " + std::strerror(errno));
    int root = tree_.add(-1, base, perms | kBitDir, -1);
    walk_dir(dir.fd, root, 0);
    return std::move(tree_);
  }
  if (!S_ISREG(st.st_mode))
    throw Refused("'" + printable(path) + "': neither a directory nor a regular file");
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
  if (file.fd < 0) throw Refused("'" + printable(path) + "': " + std::strerror(errno));
  count_node(base);
  Content c;
  try {
    c = put_fd(file.fd, base, static_cast<std::uint64_t>(st.st_size));
  } catch (const Changed& e) {
    throw Refused("'" + base + "': changed while being read (" + e.why + ")");
  }
  int root = tree_.add(-1, base, perms, tree_.content(c));
  nest(root, 1);
  return std::move(tree_);
}

void Unpacker::count_bytes(std::uint64_t n, const std::string& where) {
  total_ += n;
  if (total_ > limits_.max_total_size)
    throw Refused("'" + where + "': the upload expands past max_total_size (" +
                  std::to_string(limits_.max_total_size) + " bytes)");
}

void Unpacker::count_node(const std::string& where) {
  if (tree_.size() >= limits_.max_files)
    throw Refused("'" + where + "': the upload has more than max_files (" +
                  std::to_string(limits_.max_files) + ") files");
}

std::string printable(const std::string& text) {
  std::string out;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* bad = nullptr;
    g_utf8_validate(p, end - p, &bad);
    if (!bad || bad >= end) {
      out.append(p, end);
      break;
    }
    out.append(p, bad);
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(*bad));
    out += hex;
    p = bad + 1;
  }
  return out;
}

std::string split_path(const std::string& path, std::vector<std::string>& parts) {
  parts.clear();
  if (!g_utf8_validate(path.data(), static_cast<gssize>(path.size()), nullptr))
    return "name is not valid UTF-8";
  if (!path.empty() && path.front() == '/') return "absolute path";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return "path with '..'";
    if (part.size() > kMaxNameBytes)
      return "name longer than " + std::to_string(kMaxNameBytes) + " bytes";
    parts.push_back(std::move(part));
    if (parts.size() > kMaxPathParts)
      return "path deeper than " + std::to_string(kMaxPathParts) + " levels";
  }
  return "";
}

}  // namespace unpack
