// FedSet: the 64-bit hashes of the row lines an SQL-fed step has fed so far, to tell a re-run
// that returns only rows already fed from one that has new rows (SPEC §5.2). An open-addressing
// table of uint64 (linear probing, at most 1/2 full): 16 bytes or less per row, no node per
// entry. Hand-written because Debian 12's Boost (1.74) has no unordered_flat_set.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace sched {

class FedSet {
 public:
  // Adds a hash; true when it was not there yet.
  bool insert(std::uint64_t hash);
  bool contains(std::uint64_t hash) const;
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return slots_.size() * sizeof(std::uint64_t); }

  static std::uint64_t hash(std::string_view line);

 private:
  void grow();
  std::vector<std::uint64_t> slots_;  // 0 = empty (a hash of 0 is stored as 1)
  std::size_t size_ = 0;
};

}  // namespace sched
