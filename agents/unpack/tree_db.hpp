// save_tree: writes an unpacked Tree as `pfile` rows (deduplicated across uploads) and
// `uploadtree` rows (parent links and lft/rgt nested sets) of one upload. It runs inside the
// caller's transaction, so that the whole tree appears at once, with the ars success row
// the caller writes in the same transaction, or not at all.
#pragma once

#include <cstdint>

#include "agent/db.hpp"
#include "tree.hpp"

namespace unpack {

struct SavedTree {
  std::uint64_t rows = 0;        // uploadtree rows
  std::uint64_t new_pfiles = 0;  // pfile rows this upload was the first to register
  long long root_pfile = 0;      // the root's pfile_pk (0 for a directory upload)
};

// Must be called inside a transaction; the tree must not be empty.
SavedTree save_tree(agent::Database& db, long long upload_pk, const Tree& tree);

}  // namespace unpack
