// Tree: nodes and contents of one upload, with name and content indexes.
#include "tree.hpp"

namespace unpack {
namespace {

std::string content_key(const Content& c) {
  return c.sha1 + c.md5 + std::to_string(c.size);
}

}  // namespace

std::string Tree::child_key(int parent, std::string_view name) {
  std::string key = std::to_string(parent);
  key += '/';
  key += name;
  return key;
}

int Tree::add(int parent, std::string name, unsigned mode, int content) {
  const int index = static_cast<int>(nodes_.size());
  by_name_[child_key(parent, name)] = index;
  nodes_.push_back(Node{std::move(name), parent, mode, content, {}});
  if (parent >= 0) nodes_[static_cast<std::size_t>(parent)].kids.push_back(index);
  return index;
}

int Tree::find(int parent, std::string_view name) const {
  auto it = by_name_.find(child_key(parent, name));
  return it == by_name_.end() ? -1 : it->second;
}

int Tree::content(const Content& c) {
  auto [it, fresh] = by_content_.try_emplace(content_key(c), static_cast<int>(contents_.size()));
  if (fresh) contents_.push_back(c);
  return it->second;
}

void Tree::rollback(const Mark& m, int node) {
  for (std::size_t i = m.nodes; i < nodes_.size(); ++i)
    by_name_.erase(child_key(nodes_[i].parent, nodes_[i].name));
  nodes_.resize(m.nodes);
  for (std::size_t i = m.contents; i < contents_.size(); ++i)
    by_content_.erase(content_key(contents_[i]));
  contents_.resize(m.contents);
  nodes_[static_cast<std::size_t>(node)].kids.clear();
}

std::string Tree::path(int node) const {
  std::string out;
  for (int n = node; n >= 0; n = nodes_[static_cast<std::size_t>(n)].parent) {
    const std::string& name = nodes_[static_cast<std::size_t>(n)].name;
    out = out.empty() ? name : name + "/" + out;
  }
  return out;
}

}  // namespace unpack
