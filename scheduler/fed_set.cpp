// FedSet: linear probing over a power-of-two table of 64-bit hashes.
#include "fed_set.hpp"

#include <functional>

namespace sched {

namespace {
std::uint64_t stored(std::uint64_t h) {
  return h == 0 ? 1 : h;
}
}  // namespace

std::uint64_t FedSet::hash(std::string_view line) {
  return static_cast<std::uint64_t>(std::hash<std::string_view>{}(line));
}

bool FedSet::contains(std::uint64_t hash) const {
  if (slots_.empty()) return false;
  std::uint64_t h = stored(hash);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == 0) return false;
    if (slots_[i] == h) return true;
  }
}

bool FedSet::insert(std::uint64_t hash) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  std::uint64_t h = stored(hash);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return false;
    if (slots_[i] == 0) {
      slots_[i] = h;
      ++size_;
      return true;
    }
  }
}

void FedSet::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
  std::size_t mask = slots_.size() - 1;
  for (std::uint64_t h : old) {
    if (h == 0) continue;
    std::size_t i = static_cast<std::size_t>(h) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
  }
}

}  // namespace sched
