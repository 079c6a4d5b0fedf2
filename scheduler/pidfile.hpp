// Pidfile: a file holding the scheduler's pid under an exclusive flock for the life of the
// process, so that a second scheduler with the same pidfile refuses to start. Removed on exit.
#pragma once

#include <stdexcept>
#include <string>

namespace sched {

class Pidfile {
 public:
  // Throws std::runtime_error naming the file and, when locked, the pid holding it.
  explicit Pidfile(std::string path);
  ~Pidfile();
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
  // Rewrites the pid (after daemonizing).
  void update();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace sched
