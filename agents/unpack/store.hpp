// Store: writes file contents into the content-addressed repository (agent::Repository:
// <root>/files/ab/cd/<sha1>). A content is hashed (SHA-1 and MD5, GLib's GChecksum) while it
// is read; it is written to a temp file under <root>/tmp and renamed into place, so a reader
// never sees a partial file, and skipped when its file is already there. Small contents are
// hashed in memory first, so that a warm repository costs no write at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "agent/repository.hpp"
#include "tree.hpp"

namespace unpack {

// An I/O error on the repository (not the upload's fault): the run fails.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  // Fills `buf` with up to `len` bytes; returns 0 at the end. Throws to abandon the content.
  using Reader = std::function<std::size_t(char* buf, std::size_t len)>;

  explicit Store(agent::Repository repo, std::size_t memory_limit = 1 << 20);

  // Reads the whole content and makes sure the repository holds it. Exceptions from `read`
  // pass through (the temp file is removed).
  Content put(const Reader& read);

  const agent::Repository& repository() const { return repo_; }
  std::uint64_t written() const { return written_; }  // contents written by this Store
  std::uint64_t present() const { return present_; }  // contents that were already there

 private:
  agent::Repository repo_;
  std::size_t memory_limit_;
  std::uint64_t written_ = 0, present_ = 0;
};

}  // namespace unpack
