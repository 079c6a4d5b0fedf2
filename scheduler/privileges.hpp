// Dropping root (`[scheduler] user`, `--user`): a scheduler started as root binds its sockets
// and opens its log, then becomes that user for good (setgid, initgroups, setuid), so that
// neither it nor its agents keep root. Documented in docs/scheduler.md.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace sched {

struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the user's primary group
};

// The user `name` (a name, or a number as uid), or nullopt when there is no such user.
std::optional<RunAs> find_user(const std::string& name);

// Gives `paths` (those that exist) to the user, then becomes it: setgid, initgroups, setuid,
// and checks that root cannot be regained. Throws std::runtime_error naming the step that
// failed.
void drop_privileges(const RunAs& who, const std::vector<std::string>& paths);

}  // namespace sched
