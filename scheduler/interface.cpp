// The control interface: sockets, framing, authentication and the bounds on what a client
// can make the scheduler hold; what each command does is in interface_commands.cpp.
#include "interface.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.hpp"

namespace sched {

namespace {

int listen_tcp(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    throw std::runtime_error(
        fmt::format("cannot resolve listen address '{}': {}", address, gai_strerror(rc)));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    freeaddrinfo(res);
    if (fd >= 0) close(fd);
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: {}", address, port, strerror(err)));
  }
  freeaddrinfo(res);
  return fd;
}

// The socket's directory: created 0750 when missing (returns true then); an existing one that
// others may write to is refused (anyone could replace the socket with their own).
bool prepare_socket_dir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT)
      throw std::runtime_error(fmt::format("socket directory '{}': {}", dir, strerror(errno)));
    std::string parent = dir.substr(0, dir.rfind('/'));
    if (!parent.empty()) g_mkdir_with_parents(parent.c_str(), 0755);
    if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
      throw std::runtime_error(
          fmt::format("cannot create socket directory '{}': {}", dir, strerror(errno)));
    chmod(dir.c_str(), 0750);  // whatever the umask
    return true;
  }
  if (!S_ISDIR(st.st_mode))
    throw ListenConfigError(fmt::format("socket directory '{}' is not a directory", dir));
  if ((st.st_mode & S_IWOTH) != 0)
    throw ListenConfigError(fmt::format(
        "socket directory '{}' is writable by others (mode {:04o}); expected a directory only "
        "the scheduler's user and group may write to, e.g. 0750 (or leave it missing: it is "
        "created 0750)",
        dir, st.st_mode & 07777));
  return false;
}

int listen_unix(const std::string& path, bool& made_dir) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error(fmt::format("socket path '{}' is too long", path));
  std::string dir = path.rfind('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  made_dir = prepare_socket_dir(dir.empty() ? "/" : dir);
  unlink(path.c_str());  // a stale socket of a previous scheduler (we hold the database lock)
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Created 0660 from the start (the umask applies to bind): no window where others connect.
  mode_t old = umask(0117);
  bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  int err = errno;
  umask(old);
  if (!bound || ::listen(fd, 64) != 0 || chmod(path.c_str(), 0660) != 0) {
    if (bound) err = errno;
    if (fd >= 0) close(fd);
    throw std::runtime_error(fmt::format("cannot listen on socket '{}': {}", path, strerror(err)));
  }
  return fd;
}

// Who is at the other end, for log lines.
std::string peer_name(int fd, bool tcp) {
  if (!tcp) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      return fmt::format("unix socket (pid {} uid {})", cred.pid, cred.uid);
    return "unix socket";
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
  if (ss.ss_family == AF_INET6) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace

Interface::Interface(Scheduler& scheduler, Database& db, InterfaceActions actions)
    : scheduler_(scheduler), db_(db), actions_(std::move(actions)) {}

Interface::~Interface() {
  for (auto& c : connections_) {
    c.watch.reset();
    close(c.fd);
  }
  listen_watches_.clear();
  for (int fd : listen_fds_) close(fd);
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
}

void Interface::listen(const std::string& address, int port, const std::string& socket_path) {
  std::vector<std::pair<int, bool>> fds;  // fd, tcp
  if (port > 0) fds.emplace_back(listen_tcp(address, port), true);
  if (!socket_path.empty()) {
    try {
      fds.emplace_back(listen_unix(socket_path, made_socket_dir_), false);
    } catch (...) {
      for (auto& [fd, tcp] : fds) close(fd);
      throw;
    }
    socket_path_ = socket_path;
  }
  for (auto [fd, tcp] : fds) {
    listen_fds_.push_back(fd);
    listen_watches_.push_back(
        Source::watch_fd(fd, G_IO_IN, [this, fd = fd, tcp = tcp](GIOCondition) {
          accept_from(fd, tcp);
          return true;
        }));
  }
}

void Interface::chown_socket(uid_t uid, gid_t gid) const {
  if (socket_path_.empty()) return;
  std::vector<std::string> paths{socket_path_};
  if (made_socket_dir_) paths.push_back(socket_path_.substr(0, socket_path_.rfind('/')));
  for (const auto& p : paths)
    if (chown(p.c_str(), uid, gid) != 0)
      throw std::runtime_error(
          fmt::format("cannot give '{}' to uid {} gid {}: {}", p, uid, gid, strerror(errno)));
}

void Interface::accept_from(int listen_fd, bool tcp) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= kMaxConnections) {
      if (!full_logged_)
        log::warning("control interface: {} connections open; refusing more (first: {})",
                     kMaxConnections, peer_name(fd, tcp));
      full_logged_ = true;
      static const char kFull[] = "ERROR: too many control connections\n";
      (void)!send(fd, kFull, sizeof kFull - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    full_logged_ = false;
    Connection& c = connections_.emplace_back();
    c.id = next_id_++;
    c.fd = fd;
    c.tcp = tcp;
    c.peer = peer_name(fd, tcp);
    watch(&c);
  }
}

bool Interface::on_connection(Connection* c, GIOCondition condition) {
  if ((condition & G_IO_OUT) && !flush(c)) return false;
  if (c->waiting) {
    if (!(condition & (G_IO_HUP | G_IO_ERR))) return true;
    drop(c);  // gone before its answer: the lookup's callback finds no connection
    return false;
  }
  if (!(condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))) return true;
  char buf[4096];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) {
    drop(c);
    return false;
  }
  std::vector<agent::protocol::LineSplitter::Line> lines;
  c->lines.feed(std::string_view(buf, static_cast<std::size_t>(n)), lines);
  for (auto& l : lines) c->queued.push_back(std::move(l));
  return run_queued(c) && flush(c);
}

bool Interface::run_queued(Connection* c) {
  std::uint64_t id = c->id;
  while (!c->queued.empty() && !c->closing && !c->waiting) {
    auto line = std::move(c->queued.front());
    c->queued.pop_front();
    answer(c, line);
    if (find(id) == nullptr) return false;  // dropped: its output passed the bound
  }
  if (c->closing) c->queued.clear();
  return true;
}

void Interface::answer(Connection* c, const agent::protocol::LineSplitter::Line& line) {
  if (line.cut) {
    emit(c, {"Invalid command: line too long", "end"});
    return;
  }
  if (c->tcp && !c->authenticated && !authenticate(c, line.text)) return;
  Reply r = run_command(scheduler_, actions_, line.text);
  if (!emit(c, r.lines)) return;
  c->closing = r.close;
  if (r.lookup) start_lookup(c, std::move(*r.lookup));
}

// A TCP client before its `auth`: true when the line may run (no token configured). A right
// `auth <token>` is answered received/end; anything else gets one error line (a wrong token
// also ends the connection, so that each guess costs a connection).
bool Interface::authenticate(Connection* c, const std::string& line) {
  const std::string& token = scheduler_.config().auth_token;
  if (token.empty()) return true;
  std::string_view text = line;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  std::string word(text.substr(0, std::min(text.find_first_of(" \t"), text.size())));
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (word != "auth") {
    emit(c, {"ERROR: authentication required"});
    return false;
  }
  std::string_view given = text.substr(word.size());
  while (!given.empty() && (given.front() == ' ' || given.front() == '\t')) given.remove_prefix(1);
  if (!token_matches(given, token)) {
    log::warning("control connection from {}: wrong auth token; closing it", c->peer);
    if (emit(c, {"ERROR: authentication failed: wrong token"})) c->closing = true;
    return false;
  }
  c->authenticated = true;
  emit(c, {"received", "end"});
  return false;
}

// The step is not in memory: jobqueue says whether it exists. The connection reads nothing
// more until the answer is sent (so one lookup per connection at most).
void Interface::start_lookup(Connection* c, StepLookup lookup) {
  c->waiting = true;
  watch(c);
  std::weak_ptr<Interface*> self = self_;
  std::uint64_t id = c->id;
  std::string pk = std::to_string(lookup.jq_pk);
  db_.query(kLookupStep, {pk}, [self, id, lookup = std::move(lookup)](const QueryResult& r) {
    auto alive = self.lock();
    if (!alive) return;
    Interface& me = **alive;
    Connection* c = me.find(id);
    if (c == nullptr) return;  // the client went away meanwhile
    std::vector<std::string> lines;
    if (!r.ok()) {
      lines = {fmt::format("ERROR: cannot look step {} up: {}", lookup.jq_pk, r.error()), "end"};
    } else {
      StepFound row;
      row.exists = r.rows() > 0;
      row.ended = row.exists && r.get(0, 0) == "t";
      row.endtext = row.exists ? r.get(0, 1) : "";
      lines = finish_step_command(me.scheduler_, lookup, row);
    }
    c->waiting = false;
    if (!me.emit(c, lines) || !me.run_queued(c) || !me.flush(c)) return;
    me.watch(c);
  });
}

bool Interface::emit(Connection* c, const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    c->out += l;
    c->out += '\n';
  }
  if (c->out.size() <= kMaxPendingOutput) return true;
  log::warning(
      "control connection from {} dropped: over {} bytes of replies unread (it sends "
      "commands without reading the replies)",
      c->peer, kMaxPendingOutput);
  drop(c);
  return false;
}

bool Interface::flush(Connection* c) {
  while (!c->out.empty()) {
    ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c->out.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!c->want_out) watch(c);
      return true;
    } else {
      c->out.clear();
      c->closing = true;
    }
  }
  if (c->want_out) watch(c);
  if (c->closing) shutdown(c->fd, SHUT_RDWR);  // the next read sees EOF and drops it
  return true;
}

// (Re)registers the connection's watch: G_IO_OUT while output is pending, G_IO_IN unless a
// reply waits for the database.
void Interface::watch(Connection* c) {
  c->want_out = !c->out.empty();
  int cond = G_IO_HUP | G_IO_ERR;
  if (!c->waiting) cond |= G_IO_IN;
  if (c->want_out) cond |= G_IO_OUT;
  c->watch = Source::watch_fd(c->fd, GIOCondition(cond),
                              [this, c](GIOCondition got) { return on_connection(c, got); });
}

void Interface::drop(Connection* c) {
  close(c->fd);
  c->fd = -1;
  c->watch.reset();
  connections_.remove_if([c](const Connection& x) { return &x == c; });
}

Interface::Connection* Interface::find(std::uint64_t id) {
  for (auto& c : connections_)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace sched
