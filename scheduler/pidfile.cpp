// The pidfile lock: flock(LOCK_EX | LOCK_NB) on an O_CLOEXEC descriptor.
#include "pidfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sched {

Pidfile::Pidfile(std::string path) : path_(std::move(path)) {
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open pidfile '" + path_ + "': " + strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    close(fd_);
    fd_ = -1;
    throw std::runtime_error("another scheduler is running: pidfile '" + path_ +
                             "' is locked by pid " + holder);
  }
  update();
}

void Pidfile::update() {
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) < 0)
    throw std::runtime_error("cannot write pidfile '" + path_ + "': " + strerror(errno));
}

Pidfile::~Pidfile() {
  if (fd_ < 0) return;
  unlink(path_.c_str());
  close(fd_);
}

}  // namespace sched
