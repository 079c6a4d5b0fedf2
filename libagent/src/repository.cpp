// The repository's naming rule: <root>/files/ab/cd/<sha1>.
#include "agent/repository.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#ifndef JOBLINE_DEFAULT_REPOSITORY
#define JOBLINE_DEFAULT_REPOSITORY "/var/lib/jobline/repository"
#endif

namespace agent {

Repository::Repository(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Repository::default_root() {
  const char* env = std::getenv("JOBLINE_REPOSITORY");
  return env && *env ? env : JOBLINE_DEFAULT_REPOSITORY;
}

std::string Repository::path_of(std::string_view sha1) const {
  bool hex = sha1.size() == 40 && std::all_of(sha1.begin(), sha1.end(), [](unsigned char c) {
               return std::isxdigit(c) != 0;
             });
  if (!hex) throw std::invalid_argument("not a SHA-1 (40 hex digits): '" + std::string(sha1) + "'");
  std::string s(sha1);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return root_ + "/files/" + s.substr(0, 2) + "/" + s.substr(2, 2) + "/" + s;
}

}  // namespace agent
