// SpdxList: the SPDX license and exception identifiers, from Debian's node-spdx-license-ids and
// node-spdx-exceptions (their JSON files are embedded at build time by agents/license/
// CMakeLists.txt, so agents need no data files at run time). Immutable after construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace license {

class SpdxList {
 public:
  // The lists this build embedded (parsed once, on first use).
  static const SpdxList& builtin();

  // From the JSON texts: arrays of id strings. Throws std::runtime_error when one is not.
  SpdxList(std::string_view licenses_json, std::string_view deprecated_json,
           std::string_view exceptions_json);

  // The id as the list spells it (matching ignores case), or nullopt when it is not a current
  // license id. Deprecated ids are not found here (see deprecated()).
  std::optional<std::string> license(std::string_view id) const;
  std::optional<std::string> deprecated(std::string_view id) const;
  std::optional<std::string> exception(std::string_view id) const;

  std::size_t license_count() const { return licenses_.size(); }
  // Every current license id, for filling license_ref.
  const std::unordered_map<std::string, std::string>& licenses() const { return licenses_; }

 private:
  // lower-case id -> id
  std::unordered_map<std::string, std::string> licenses_, deprecated_, exceptions_;
};

}  // namespace license
