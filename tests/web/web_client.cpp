// See web_client.hpp.
#include "web_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <regex>
#include <stdexcept>

namespace webtest {
namespace {

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to jobline-web");
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (413)
    done += static_cast<std::size_t>(n);
  }
}

// Reads what is there within the deadline; false at EOF or timeout.
bool read_some(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n <= 0) return false;
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

std::string Response::header(const std::string& name) const {
  std::string lower_head = head, lower_name = name + ":";
  for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto pos = lower_head.find("\r\n" + lower_name);
  if (pos == std::string::npos) return "";
  pos += 2 + lower_name.size();
  auto end = head.find("\r\n", pos);
  std::string v = head.substr(pos, end - pos);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

Response http(int port, const std::string& raw, std::chrono::milliseconds timeout) {
  int fd = connect_to(port);
  send_all(fd, raw);
  std::string all;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_some(fd, all, deadline)) {
  }
  ::close(fd);
  Response r;
  auto split = all.find("\r\n\r\n");
  r.head = all.substr(0, split);
  r.body = split == std::string::npos ? "" : all.substr(split + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

Response get(int port, const std::string& path, const std::string& headers) {
  return http(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                        headers + "\r\n");
}

Response post(int port, const std::string& path, const std::string& body,
              const std::string& content_type, const std::string& headers) {
  return http(port, "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                        "Content-Type: " + content_type + "\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body);
}

EventClient::EventClient(int port, const std::string& headers) : fd_(connect_to(port)) {
  send_all(fd_, "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n");
}

EventClient::~EventClient() {
  ::close(fd_);
}

bool EventClient::wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                           std::string* stream) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool found = buffer_.find(needle) != std::string::npos;
  while (!found && read_some(fd_, buffer_, deadline))
    found = buffer_.find(needle) != std::string::npos;
  if (stream) *stream = buffer_;
  return found;
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

std::string csrf_of(const std::string& page) {
  std::smatch m;
  static const std::regex re("name=\"csrf\" value=\"([0-9a-f]+)\"");
  return std::regex_search(page, m, re) ? m[1].str() : "";
}

WebServer::WebServer(const std::string& web_group) : WebServer(web_group, "") {}

WebServer::WebServer(const std::string& web_group, const std::string& cluster_conninfo) {
  test::SchedulerSettings s;
  s.startup_timeout = 5;
  s.heartbeat_timeout = 30;
  s.kill_grace = 0.5;
  auto plugin = [](test::AgentConf a, const std::string& p) {
    a.extra += "\n[plugin]\n" + p;
    return a;
  };
  s.agents = {
      plugin(test::fake_agent("unpack", "--work-ms=200"),
             "title = Unpack\nargs = $upload\ndefault = true\n"),
      plugin(test::fake_agent("scan", "--work-ms=200"),
             "title = Scanner\ndepends = unpack\nargs = scan $upload\ndefault = true\n"),
      plugin(test::fake_agent("hang", "--hang"), "title = Hang\nargs = $upload\n"),
  };
  s.extra_scheduler = "[web]\nupload_roots = " + root_.path() + "\n" + web_group;
  h_ = cluster_conninfo.empty() ? std::make_unique<test::SchedulerHarness>(s)
                                : std::make_unique<test::SchedulerHarness>(s, cluster_conninfo);
  h_->start();
}

WebServer::~WebServer() {
  if (web_) web_->signal(SIGTERM), web_->wait(std::chrono::seconds(10));
}

void WebServer::start_web(std::vector<std::string> extra) {
  std::vector<std::string> argv{test::build_dir() + "/web/jobline-web",
                                "-c",
                                h_->conf_dir(),
                                "--db",
                                h_->db().conninfo(),
                                "-p",
                                "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  web_ = std::make_unique<test::Child>(argv);
  auto line = web_->read_line(std::chrono::seconds(20));
  ASSERT_TRUE(line.has_value()) << web_->read_stderr_all(std::chrono::seconds(5));
  auto pos = line->rfind(':');
  ASSERT_NE(pos, std::string::npos) << *line;
  port_ = std::atoi(line->c_str() + pos + 1);
  ASSERT_GT(port_, 0) << *line;
}

std::string WebServer::csrf() {
  return csrf_of(get(port_, "/upload").body);
}

}  // namespace webtest
