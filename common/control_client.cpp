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

constexpr std::size_t kMaxReplyLine = 64 * 1024;
constexpr std::size_t kMaxReplyLines = 1'000'000;

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

bool is_error_line(const std::string& line) {
  return line.rfind("ERROR", 0) == 0 || line.rfind("Invalid command", 0) == 0;
}

ControlClient::ControlClient(const sched::Config& config, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  std::string unix_why, tcp_why;
  if (!config.socket.empty()) {
    fd_ = connect_unix(config.socket, unix_why);
    where_ = "unix:" + config.socket;
  }
  bool tcp = fd_ < 0 && config.port > 0;
  if (tcp) {
    fd_ = connect_tcp(config.listen, config.port, tcp_why);
    where_ = fmt::format("tcp:{}:{}", config.listen, config.port);
  }
  if (fd_ < 0) {
    std::string tried;
    if (!config.socket.empty()) tried += fmt::format("socket {}: {}", config.socket, unix_why);
    if (config.port > 0)
      tried += fmt::format("{}{}:{}: {}", tried.empty() ? "" : "; ", config.listen, config.port,
                           tcp_why);
    throw ControlError(
        fmt::format("cannot reach the scheduler ({}); is it running with the "
                    "conf dir {}?",
                    tried.empty() ? "no socket or port configured" : tried, config.conf_dir));
  }
  if (tcp && !config.auth_token.empty()) {
    send("auth " + config.auth_token);
    std::string first = read_line();
    if (is_error_line(first)) throw ControlError(fmt::format("{}: {}", where_, first));
    while (first != "end") first = read_line();
  }
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

std::string ControlClient::read_line() {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > kMaxReplyLine)
      throw ControlError(
          fmt::format("{}: a reply line longer than {} bytes", where_, kMaxReplyLine));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    int rc = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0)
      throw ControlError(fmt::format("{}: no reply within {} s", where_, timeout_.count() / 1000));
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ControlError(fmt::format("{}: the scheduler closed the connection", where_));
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::vector<std::string> ControlClient::command(const std::string& line) {
  send(line);
  std::vector<std::string> out;
  for (std::string reply = read_line();; reply = read_line()) {
    if (reply == "end" || reply == "CLOSE") break;
    if (reply == "received") continue;
    out.push_back(reply);
    // An error before `received` (authentication, an unknown command) may end the reply.
    if (out.size() == 1 && reply == "ERROR: authentication required") break;
    if (out.size() > kMaxReplyLines)
      throw ControlError(fmt::format("{}: a reply of more than {} lines", where_, kMaxReplyLines));
  }
  return out;
}

}  // namespace jobctl
