// Unpacker: uploaded directories. The walk never follows a symbolic link and never opens
// anything but regular files and directories (openat with O_NOFOLLOW, fstat after open to
// check that what was opened is what was listed); devices, fifos and sockets are skipped.
// Entries are taken in name order, so that two walks of the same tree give the same Tree.
#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "unpacker.hpp"
#include "unpacker_pending.hpp"

namespace unpack {
namespace {

// Directory levels below the upload's root, at most (each open level holds one fd).
constexpr unsigned kMaxDirLevels = 256;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::vector<std::string> list_dir(int dirfd) {
  std::vector<std::string> names;
  int fd = ::dup(dirfd);
  if (fd < 0) return names;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return names;
  }
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

const char* special_kind(mode_t mode) {
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  return "file of unknown type";
}

// The node's path below the container root `root`, as components.
std::vector<std::string> parts_below(const Tree& tree, int node, int root) {
  std::vector<std::string> parts;
  for (int n = node; n >= 0 && n != root; n = tree.nodes()[static_cast<std::size_t>(n)].parent)
    parts.insert(parts.begin(), tree.nodes()[static_cast<std::size_t>(n)].name);
  return parts;
}

}  // namespace

void Unpacker::walk_dir(int dirfd, int node, unsigned levels) {
  std::vector<Pending> links;
  const std::string here = tree_.path(node);
  for (const auto& name : list_dir(dirfd)) {
    const std::string where = here + "/" + printable(name);
    if (!g_utf8_validate(name.data(), static_cast<gssize>(name.size()), nullptr)) {
      warn_("'" + where + "': name is not valid UTF-8; skipped");
      continue;
    }
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      warn_("'" + where + "': vanished while being read (" + std::strerror(errno) + "); skipped");
      continue;
    }
    const unsigned perms = static_cast<unsigned>(st.st_mode) & 07777u;
    if (S_ISDIR(st.st_mode)) {
      if (levels + 1 > kMaxDirLevels) {
        warn_("'" + where + "': directories nested deeper than " + std::to_string(kMaxDirLevels) +
              " levels; skipped");
        continue;
      }
      Fd sub{::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (sub.fd < 0) {
        warn_("'" + where + "': cannot open the directory (" + std::strerror(errno) + "); skipped");
        continue;
      }
      count_node(where);
      int child = tree_.add(node, name, perms | kBitDir, -1);
      walk_dir(sub.fd, child, levels + 1);
    } else if (S_ISREG(st.st_mode)) {
      add_dir_file(dirfd, name, node, where, perms);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        warn_("'" + where + "': vanished while being read (" + std::strerror(errno) + "); skipped");
        continue;
      }
      target.resize(static_cast<std::size_t>(n));
      // The container of a directory upload is the whole upload: node 0.
      Pending l{node, name, target, {}, where};
      if (!resolve_link(parts_below(tree_, node, 0), target, l.target_parts)) {
        warn_("'" + where + "': symbolic link to '" + printable(target) +
              "' points outside the upload; skipped");
        continue;
      }
      links.push_back(std::move(l));
    } else {
      warn_("'" + where + "': " + special_kind(st.st_mode) + "; skipped");
    }
  }
  // Links wait until the whole upload has been walked (a target may lie in a directory not
  // walked yet); the walk of the root ends last and settles them all.
  pending_.insert(pending_.end(), std::make_move_iterator(links.begin()),
                  std::make_move_iterator(links.end()));
  if (node == 0) settle_links(0, pending_);
}

void Unpacker::add_dir_file(int dirfd, const std::string& name, int parent,
                            const std::string& where, unsigned perms) {
  if (before_open) before_open(tree_.path(parent) + "/" + name);
  Fd file{::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0) {
    warn_("'" + where + "': vanished while being read (" + std::strerror(errno) + "); skipped");
    return;
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    warn_("'" + where + "': changed while being read (no longer a regular file); skipped");
    return;
  }
  count_node(where);
  Content c;
  try {
    c = put_fd(file.fd, where, static_cast<std::uint64_t>(st.st_size));
  } catch (const Changed& e) {
    warn_("'" + where + "': changed while being read (" + e.why + "); skipped");
    return;
  }
  int child = tree_.add(parent, name, perms, tree_.content(c));
  nest(child, 1);
}

Content Unpacker::put_fd(int fd, const std::string& where, std::uint64_t expected_size) {
  std::uint64_t got = 0;
  Content c = store_.put([&](char* buf, std::size_t len) -> std::size_t {
    for (;;) {
      ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Changed{std::strerror(errno)};
      got += static_cast<std::uint64_t>(n);
      if (got > expected_size) throw Changed{"it grew"};
      count_bytes(static_cast<std::uint64_t>(n), where);
      return static_cast<std::size_t>(n);
    }
  });
  if (got != expected_size) throw Changed{"it shrank"};
  return c;
}

}  // namespace unpack
