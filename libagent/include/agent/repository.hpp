// Repository: the content-addressed file store that uploads are unpacked into and scanners
// read from (SPEC §9). A file's content lives at <root>/files/<s[0..2]>/<s[2..4]>/<sha1>, where
// <sha1> is its lowercase hex SHA-1, so equal contents are stored once across uploads. This
// class only names places; the unpack agent writes them (temp file + rename, never in place).
#pragma once

#include <string>
#include <string_view>

namespace agent {

class Repository {
 public:
  explicit Repository(std::string root);

  // The root agents use when none is given: $JOBLINE_REPOSITORY, else the build's default
  // (JOBLINE_DEFAULT_REPOSITORY, /var/lib/jobline/repository when installed).
  static std::string default_root();

  const std::string& root() const { return root_; }
  // The path of the file with this SHA-1 (40 hex digits, either case); throws
  // std::invalid_argument naming the value when it is not one.
  std::string path_of(std::string_view sha1) const;

 private:
  std::string root_;
};

}  // namespace agent
