// The control interface: sockets and framing here; what each command does in run_command.
#include "interface.hpp"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "log.hpp"

namespace sched {

namespace {

std::vector<std::string> split_words(std::string_view line, std::string& error) {
  int argc = 0;
  char** argv = nullptr;
  GError* err = nullptr;
  std::string text(line);
  if (!g_shell_parse_argv(text.c_str(), &argc, &argv, &err)) {
    error = err ? err->message : "cannot parse";
    g_clear_error(&err);
    return {};
  }
  std::vector<std::string> words(argv, argv + argc);
  g_strfreev(argv);
  return words;
}

std::optional<long long> number(const std::string& s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string clock_text(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string job_line(const JobView& j) {
  return fmt::format("job:{} status:{} type:{}, priority:{} running:{} finished:0 failed:{}",
                     j.jq_pk, j.state, j.type, j.priority, j.running, j.failures);
}

void status(Scheduler& s, const InterfaceActions& a, const std::vector<std::string>& w, Reply& r) {
  auto jobs = s.jobs();
  if (w.size() == 1) {
    r.lines.push_back(
        fmt::format("scheduler:{} revision:{} daemon:{} jobs:{} log:{} port:{} verbose:{}",
                    getpid(), JOBLINE_VERSION, a.daemon ? 1 : 0, jobs.size(), log::target(),
                    s.config().port, log::verbose()));
    for (const auto& j : jobs) r.lines.push_back(job_line(j));
    return;
  }
  auto pk = number(w[1]);
  auto it = std::find_if(jobs.begin(), jobs.end(),
                         [&](const JobView& j) { return pk && j.jq_pk == *pk; });
  if (it == jobs.end()) {
    r.lines.push_back("ERROR: invalid job id = " + w[1]);
    return;
  }
  r.lines.push_back(job_line(*it));
  for (const auto& ag : s.agents())
    if (ag.jq_pk == it->jq_pk)
      r.lines.push_back(fmt::format("agent:{} host:{} type:{} status:{} time:{}", ag.pid, ag.host,
                                    ag.type, ag.state, clock_text(ag.last_seen)));
}

// kill / pause / restart / priority / verbose: commands on one step.
void step_command(Scheduler& s, const std::string& cmd, const std::vector<std::string>& w,
                  Reply& r) {
  std::string error;
  // Arguments as numbers up front: -1 when absent or not a number (no step has pk -1).
  long long pk = w.size() > 1 ? number(w[1]).value_or(-1) : -1;
  std::optional<long long> second = w.size() > 2 ? number(w[2]) : std::nullopt;
  int n = second ? static_cast<int>(*second) : 0;
  bool ok = false;
  if (pk < 0) {
    error = fmt::format("invalid {} command: \"{}\"", cmd, fmt::join(w, " "));
  } else if (cmd == "kill" && w.size() == 3) {
    ok = s.kill(pk, w[2], error);
  } else if (cmd == "pause" && w.size() == 2) {
    ok = s.pause(pk, error);
  } else if (cmd == "restart" && w.size() == 2) {
    ok = s.restart(pk, error);
  } else if (cmd == "priority" && w.size() == 3 && second) {
    ok = s.set_priority(pk, n, error);
  } else if (cmd == "verbose" && w.size() == 3 && second) {
    ok = s.set_verbose(pk, n, error);
  } else if (cmd == "verbose" && w.size() == 2) {
    log::set_verbose(static_cast<int>(pk));
    ok = true;
  } else {
    error = fmt::format("invalid {} command: \"{}\"", cmd, fmt::join(w, " "));
  }
  if (!ok) r.lines.push_back("ERROR: " + error);
}

}  // namespace

Reply run_command(Scheduler& s, const InterfaceActions& a, std::string_view line) {
  Reply r;
  std::string error;
  auto w = split_words(line, error);
  if (w.empty()) {
    if (!error.empty()) {
      r.lines.push_back("Invalid command: \"" + std::string(line) + "\": " + error);
      r.lines.push_back("end");
    }
    return r;
  }
  std::string cmd = w[0];
  std::transform(cmd.begin(), cmd.end(), cmd.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* known[] = {"status",  "load",     "agents",  "kill",   "pause",
                                "restart", "priority", "verbose", "reload", "database",
                                "stop",    "die",      "close"};
  if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return cmd == k; })) {
    r.lines.push_back("Invalid command: \"" + std::string(line) + "\"");
    r.lines.push_back("end");
    return r;
  }
  r.lines.push_back("received");
  if (cmd == "close" || cmd == "stop" || cmd == "die") {
    if (cmd == "stop" && a.stop) a.stop();
    if (cmd == "die" && a.die) a.die();
    r.lines.push_back("CLOSE");
    r.close = true;
    return r;
  }
  if (cmd == "status") {
    status(s, a, w, r);
  } else if (cmd == "load") {
    auto load = s.host_load();
    for (const auto& h : s.config().hosts)
      r.lines.push_back(fmt::format("host:{} address:{} max:{} running:{}", h.name, h.address,
                                    h.max, load[h.name]));
  } else if (cmd == "agents") {
    std::string names;
    for (const auto& name : s.valid_agent_types()) names += name + " ";
    r.lines.push_back(names);
  } else if (cmd == "reload") {
    if (a.reload) a.reload();
  } else if (cmd == "database") {
    s.request_poll();
  } else if (cmd == "verbose" && w.size() == 1) {
    r.lines.push_back(fmt::format("level: {}", log::verbose()));
  } else {
    step_command(s, cmd, w, r);
  }
  r.lines.push_back("end");
  return r;
}

Interface::Interface(Scheduler& scheduler, InterfaceActions actions)
    : scheduler_(scheduler), actions_(std::move(actions)) {}

Interface::~Interface() {
  for (auto& c : connections_) {
    c.watch.reset();
    close(c.fd);
  }
  listen_watches_.clear();
  for (int fd : listen_fds_) close(fd);
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
}

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
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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

int listen_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error(fmt::format("socket path '{}' is too long", path));
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) g_mkdir_with_parents(dir.c_str(), 0755);
  unlink(path.c_str());  // a stale socket of a previous scheduler (we hold the database lock)
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 64) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw std::runtime_error(fmt::format("cannot listen on socket '{}': {}", path, strerror(err)));
  }
  return fd;
}

}  // namespace

void Interface::listen(const std::string& address, int port, const std::string& socket_path) {
  if (port > 0) listen_fds_.push_back(listen_tcp(address, port));
  if (!socket_path.empty()) {
    listen_fds_.push_back(listen_unix(socket_path));
    socket_path_ = socket_path;
  }
  for (int fd : listen_fds_)
    listen_watches_.push_back(Source::watch_fd(fd, G_IO_IN, [this, fd](GIOCondition) {
      accept_from(fd);
      return true;
    }));
}

void Interface::accept_from(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    Connection& c = connections_.emplace_back();
    c.fd = fd;
    watch(&c, false);
  }
}

bool Interface::on_connection(Connection* c, GIOCondition condition) {
  if (condition & G_IO_OUT) flush(c);
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
  for (const auto& line : lines) {
    if (c->closing) break;
    Reply r = line.cut ? Reply{{"Invalid command: line too long", "end"}, false}
                       : run_command(scheduler_, actions_, line.text);
    for (const auto& l : r.lines) c->out += l + "\n";
    c->closing = r.close;
  }
  flush(c);
  return true;
}

void Interface::flush(Connection* c) {
  while (!c->out.empty()) {
    ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c->out.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      if (!c->want_out) watch(c, true);
      return;
    } else {
      c->out.clear();
      c->closing = true;
    }
  }
  if (c->want_out) watch(c, false);
  if (c->closing) shutdown(c->fd, SHUT_RDWR);  // the next read sees EOF and drops it
}

// (Re)registers the connection's watch, with G_IO_OUT only while output is pending.
void Interface::watch(Connection* c, bool want_out) {
  c->want_out = want_out;
  auto cond = GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR | (want_out ? G_IO_OUT : 0));
  c->watch =
      Source::watch_fd(c->fd, cond, [this, c](GIOCondition got) { return on_connection(c, got); });
}

void Interface::drop(Connection* c) {
  close(c->fd);
  c->fd = -1;
  c->watch = Source();
  connections_.remove_if([c](const Connection& x) { return &x == c; });
}

}  // namespace sched
