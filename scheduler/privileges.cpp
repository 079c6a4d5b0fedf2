// Dropping root: see privileges.hpp.
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace sched {

std::optional<RunAs> find_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    uid_t uid = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), uid);
    if (ec == std::errc() && p == name.data() + name.size())
      getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
  }
  if (found == nullptr) return std::nullopt;
  return RunAs{found->pw_name, found->pw_uid, found->pw_gid};
}

void drop_privileges(const RunAs& who, const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (access(p.c_str(), F_OK) != 0) continue;
    if (chown(p.c_str(), who.uid, who.gid) != 0)
      throw std::runtime_error(
          fmt::format("cannot give '{}' to user {}: {}", p, who.name, strerror(errno)));
  }
  if (setgid(who.gid) != 0)
    throw std::runtime_error(fmt::format("setgid({}): {}", who.gid, strerror(errno)));
  if (initgroups(who.name.c_str(), who.gid) != 0)
    throw std::runtime_error(fmt::format("initgroups({}): {}", who.name, strerror(errno)));
  if (setuid(who.uid) != 0)
    throw std::runtime_error(fmt::format("setuid({}): {}", who.uid, strerror(errno)));
  if (who.uid != 0 && setuid(0) == 0)
    throw std::runtime_error("root could be regained after setuid; refusing to go on");
}

}  // namespace sched
