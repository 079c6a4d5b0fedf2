// ControlClient (control_client.hpp): blocking sockets with poll(2) deadlines.
#include "control_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace jobctl {

namespace {

int connect_unix(const std::string& path, std::string& why) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    why = "path too long";
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  why = std::strerror(errno);
  if (fd >= 0) ::close(fd);
  return -1;
}

int connect_tcp(const std::string& host, int port, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = list; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(list);
  return fd;
}

}  // namespace

ControlClient::ControlClient(const sched::Config& config, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  std::vector<std::pair<ControlPlace, std::string>> tried;
  for (const ControlPlace& place : control_places(config)) {
    std::string why;
    fd_ = place.unix_socket ? connect_unix(place.path, why)
                            : connect_tcp(place.host, place.port, why);
    if (fd_ < 0) {
      tried.emplace_back(place, why);
      continue;
    }
    where_ = place.where();
    parser_ = ReplyParser(where_);
    if (std::string auth = auth_line(config, place); !auth.empty()) {
      send(auth);
      auto reply = read_reply();
      if (!reply.empty() && is_error_line(reply.front()))
        throw ControlError(fmt::format("{}: {}", where_, reply.front()));
    }
    return;
  }
  throw ControlError(unreachable_message(config.conf_dir, tried));
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

void ControlClient::send(const std::string& line) {
  std::string out = line + "\n";
  for (std::size_t done = 0; done < out.size();) {
    ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ControlError(fmt::format("{}: cannot send: {}", where_, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

// Each wait for more of the reply is bounded by the timeout.
std::vector<std::string> ControlClient::read_reply() {
  for (;;) {
    if (auto reply = parser_.next()) return std::move(*reply);
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0)
      throw ControlError(fmt::format("{}: no reply within {} s", where_, timeout_.count() / 1000));
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ControlError(fmt::format("{}: the scheduler closed the connection", where_));
    parser_.append(std::string_view(chunk, static_cast<std::size_t>(n)));
  }
}

std::vector<std::string> ControlClient::command(const std::string& line) {
  send(line);
  return read_reply();
}

}  // namespace jobctl
