// Tree: an upload as the unpack agent sees it before it reaches the database — the nodes
// (directories, files, archives) with their parent links, and the distinct file contents
// they point at. Node 0 is the root (the uploaded directory or archive). Built by Unpacker,
// written by save_tree(); nothing here touches the disk or the database.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace unpack {

// A file's content as stored in the repository and in `pfile`.
struct Content {
  std::string sha1;  // 40 lowercase hex digits
  std::string md5;   // 32 lowercase hex digits
  std::uint64_t size = 0;
};

// FOSSology's ufile_mode bits (reference/fossology.md; FOSSology's ununpack.h), added to the
// entry's permission bits (mode & 07777).
inline constexpr unsigned kBitDir = 1u << 18;        // a directory
inline constexpr unsigned kBitContainer = 1u << 29;  // an archive whose entries are its children

struct Node {
  std::string name;       // one path component, valid UTF-8 (the root: the upload's base name)
  int parent = -1;        // index of the parent node; -1 for the root
  unsigned mode = 0;      // permission bits | kBitDir | kBitContainer
  int content = -1;       // index in Tree::contents(); -1 for directories
  std::vector<int> kids;  // children, in the order they were found
};

class Tree {
 public:
  // Adds a child of `parent` (-1: the root, only once) and returns its index.
  int add(int parent, std::string name, unsigned mode, int content);
  // The child of `parent` with this name, or -1.
  int find(int parent, std::string_view name) const;
  // Registers a content (deduplicated by sha1+md5+size) and returns its index.
  int content(const Content& c);

  // Undo log for a nested archive that turns out to be bad: everything added after mark()
  // is dropped by rollback(mark); `node`'s children are cleared.
  struct Mark {
    std::size_t nodes = 0, contents = 0;
  };
  Mark mark() const { return {nodes_.size(), contents_.size()}; }
  void rollback(const Mark& m, int node);

  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Content>& contents() const { return contents_; }
  std::size_t size() const { return nodes_.size(); }
  // The node's path from the root, '/'-separated (the root's own name first).
  std::string path(int node) const;

 private:
  static std::string child_key(int parent, std::string_view name);
  std::vector<Node> nodes_;
  std::vector<Content> contents_;
  std::unordered_map<std::string, int> by_name_;     // child_key → node
  std::unordered_map<std::string, int> by_content_;  // sha1+md5+size → content
};

}  // namespace unpack
