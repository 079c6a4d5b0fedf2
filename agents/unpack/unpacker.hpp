// Unpacker: turns an uploaded directory or archive into a Tree, putting every file's content
// into the repository through a Store. Archives (everything libarchive reads, single-file
// .gz/.bz2/.xz/.zst included) are opened from their repository copy and walked in turn, to
// max_depth levels. Nothing is extracted anywhere but into the repository.
//
// Hostile input is contained or refused (docs/agents.md, "unpack"): an entry with an absolute
// path, a `..`, a link pointing out, a device, a name that is not UTF-8, or a file that
// vanishes or changes while it is read is skipped with a warning; a nested archive that is
// corrupt, truncated, too deep or a bomb (past max_ratio) is kept as a plain file with a
// warning; the upload itself is refused (Refused) when its top-level archive is corrupt or a
// bomb, or when it exceeds max_total_size or max_files.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store.hpp"
#include "tree.hpp"

struct archive;

namespace unpack {

struct Limits {
  unsigned max_depth = 8;                      // archives in archives in ... (top level = 1)
  std::uint64_t max_total_size = 16ull << 30;  // bytes of all contents of an upload
  std::uint64_t max_files = 1'000'000;         // nodes in an upload's tree
  double max_ratio = 200;                      // expanded bytes / archive bytes, at most...
  std::uint64_t ratio_min_size = 64ull << 20;  // ...once an archive expanded past this
};

// The upload as a whole is refused; what() is one line naming the path.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Unpacker {
 public:
  using Warn = std::function<void(const std::string&)>;

  Unpacker(Store& store, Limits limits, Warn warn);
  ~Unpacker();
  Unpacker(const Unpacker&) = delete;
  Unpacker& operator=(const Unpacker&) = delete;

  // Unpacks the directory, archive or file at `path`. Throws Refused, or StoreError for a
  // repository that cannot be written.
  Tree unpack(const std::string& path);

  // Test hook: called with the file's path just before a file of a directory upload is
  // opened (tests remove the file there to make it vanish). Empty in the agent.
  std::function<void(const std::string& path)> before_open;

  std::uint64_t total_bytes() const { return total_; }

 private:
  struct Pending;  // a symbolic link waiting for its target (unpacker_links.cpp)

  // Directories (unpack_dir.cpp).
  void walk_dir(int dirfd, int node, unsigned levels);
  void add_dir_file(int dirfd, const std::string& name, int parent, const std::string& where,
                    unsigned perms);
  Content put_fd(int fd, const std::string& where, std::uint64_t expected_size);

  // Archives (unpack_archive.cpp). nest() opens node's content as an archive when it is one
  // and returns true when it was unpacked (the node is then a container).
  bool nest(int node, unsigned depth);
  void read_entries(::archive* a, int node, unsigned depth);
  void add_entry(::archive* a, void* entry, int container, unsigned depth,
                 std::vector<Pending>& links, std::uint64_t& expanded);
  int ensure_dirs(int container, const std::vector<std::string>& parts, std::size_t count,
                  const std::string& where);

  // Links (unpack_links.cpp): lexical resolution inside the container, then registration.
  bool resolve_link(const std::vector<std::string>& link_dir, const std::string& target,
                    std::vector<std::string>& out) const;
  void settle_links(int root, std::vector<Pending>& links);

  void count_bytes(std::uint64_t n, const std::string& where);
  void count_node(const std::string& where);

  Store& store_;
  Limits limits_;
  Warn warn_;
  Tree tree_;
  std::vector<Pending> pending_;  // links of a directory upload, settled at its end
  std::uint64_t total_ = 0;
};

// Bounds of an archive entry's path: bytes of one component, components of the path.
inline constexpr std::size_t kMaxNameBytes = 1024;
inline constexpr std::size_t kMaxPathParts = 256;

// Splits an archive entry's path into components ("." and empty ones dropped). Returns the
// reason it is refused ("absolute path", "path with '..'", "name is not valid UTF-8", too long
// or too deep), or "".
std::string split_path(const std::string& path, std::vector<std::string>& parts);

// The text with every byte that is not valid UTF-8 written as \xNN (for messages).
std::string printable(const std::string& text);

}  // namespace unpack
