// Security of the scheduler as a process (docs/scheduler.md, "Security"): a control client
// that never reads is dropped and memory stays bounded; auth_token on TCP; the socket's modes;
// dropping root with `user`; agents inherit no database secret and no scheduler fd.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::contains;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A field of /proc/<pid>/status ("VmRSS", "Uid"), without its name.
std::string proc_status(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) {
      std::string v = line.substr(field.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

long rss_kib(pid_t pid) {
  return std::stol(proc_status(pid, "VmRSS"));  // "12345 kB"
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A line-oriented client on one connection.
struct Client {
  int fd = -1;
  std::string buf;
  explicit Client(int f) : fd(f) {}
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& line) {
    std::string out = line + "\n";
    ASSERT_EQ(::send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  }
  // The next line, or "<eof>" when the scheduler closed the connection, "<timeout>".
  std::string line(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buf.find('\n'); nl != std::string::npos) {
        std::string l = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return "<timeout>";
      char chunk[4096];
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return "<eof>";
      buf.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Lines through `end` (or a lone error line, or EOF).
  std::vector<std::string> reply() {
    std::vector<std::string> out;
    for (;;) {
      out.push_back(line());
      const auto& l = out.back();
      if (l == "end" || l == "CLOSE" || l == "<eof>" || l == "<timeout>") return out;
      if (out.size() == 1 && l.rfind("ERROR: auth", 0) == 0) return out;
    }
  }
};

using Lines = std::vector<std::string>;

TEST(ControlSecurity, ClientThatNeverReadsIsDroppedAndMemoryStaysBounded) {
  test::HangingStep s;  // a step in memory: each `status` reply is three lines
  ASSERT_GT(s.pid, 0) << s.h.log();
  pid_t sched = s.h.process()->pid();
  long before = rss_kib(sched);
  int fd = connect_unix(s.h.conf_dir() + "/scheduler.sock");
  ASSERT_GE(fd, 0);
  // Send `status` until the scheduler hangs up; never read a byte.
  const std::string burst = [] {
    std::string b;
    for (int i = 0; i < 100; ++i) b += "status\n";
    return b;
  }();
  std::size_t sent = 0;
  bool dropped = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!dropped && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::send(fd, burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) sent += static_cast<std::size_t>(n);
    if (n < 0 && errno != EAGAIN) dropped = true;  // EPIPE / ECONNRESET
    if (p.revents & (POLLHUP | POLLERR)) dropped = true;
  }
  ::close(fd);
  long after = rss_kib(sched);
  std::cout << "scheduler VmRSS before " << before << " kB, after " << after << " kB; sent " << sent
            << " bytes of commands\n";
  EXPECT_TRUE(dropped) << "sent " << sent << " bytes";
  EXPECT_TRUE(test::eventually([&] {
    return contains(s.h.log(), " dropped: over 1048576 bytes of replies unread");
  })) << s.h.log();
  EXPECT_TRUE(contains(
      s.h.log(), "control connection from unix socket (pid " + std::to_string(getpid()) + " uid "))
      << s.h.log();
  EXPECT_EQ(test::count_of(s.h.log(), "bytes of replies unread"), 1);
  // The bound: 1 MiB of replies, and what the allocator keeps. ASan's quarantine keeps freed
  // memory for a while (256 MiB at most by default), so a sanitizer build gets a wider bound
  // that still catches the unbounded growth (gigabytes) this test is about.
#if defined(__SANITIZE_ADDRESS__)
  constexpr long kBoundKib = 64 * 1024;
#else
  constexpr long kBoundKib = 4 * 1024;
#endif
  EXPECT_LT(after - before, kBoundKib) << "VmRSS grew from " << before << " to " << after << " kB";
  // The scheduler still answers, and the step still runs.
  auto status = s.h.control("status " + test::pk(s.jq));
  ASSERT_FALSE(status.empty());
  EXPECT_EQ(status[0], "received");
  EXPECT_EQ(s.h.column(s.jq, "jq_endtime"), "");
}

TEST(ControlSecurity, TcpClientsMustSendTheTokenFirst) {
  auto settings = test::HangingStep::settings();
  settings.extra_scheduler = "auth_token = s3cret-token";
  test::SchedulerHarness h(settings);
  h.start();
  long long jq = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(jq, 30s)) << h.log();
  {
    int fd = -1;
    ASSERT_TRUE(test::eventually([&] { return (fd = connect_tcp(h.port())) >= 0; }));
    Client c(fd);
    // Before `auth`: one error line per command, nothing done.
    for (const std::string& cmd : Lines{"status", "kill " + test::pk(jq) + " x",
                                        "pause " + test::pk(jq), "stop", "frobnicate"}) {
      c.send(cmd);
      EXPECT_EQ(c.reply(), Lines{"ERROR: authentication required"}) << cmd;
    }
    c.send("auth s3cret-token");
    EXPECT_EQ(c.reply(), (Lines{"received", "end"}));
    c.send("status " + test::pk(jq));
    auto r = c.reply();
    ASSERT_GE(r.size(), 3u);
    EXPECT_EQ(r[0], "received");
    EXPECT_EQ(r.back(), "end");
  }
  {
    Client c(connect_tcp(h.port()));
    c.send("auth s3cret-tokeN");
    EXPECT_EQ(c.reply(), Lines{"ERROR: authentication failed: wrong token"});
    EXPECT_EQ(c.line(), "<eof>");  // one guess per connection
  }
  EXPECT_TRUE(contains(h.log(), "control connection from 127.0.0.1:")) << h.log();
  EXPECT_TRUE(contains(h.log(), ": wrong auth token; closing it")) << h.log();
  EXPECT_FALSE(contains(h.log(), "s3cret")) << "the token must not be logged";
  // The step was neither killed nor paused; the Unix socket needs no token.
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  EXPECT_EQ(h.control("status").at(0), "received");
}

TEST(ControlSecurity, SocketIsGroupOnlyInADirectoryOthersCannotWrite) {
  auto settings = test::HangingStep::settings();
  test::SchedulerHarness h(settings);
  // A missing directory is created 0750; the socket is 0660.
  std::string dir = h.conf_dir() + "/run/deeper";
  h.settings().extra_scheduler = "socket = " + dir + "/s.sock";
  h.write_conf();
  h.start();
  ASSERT_TRUE(test::eventually([&] { return connect_unix(dir + "/s.sock") >= 0; })) << h.log();
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::stat((dir + "/s.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  h.stop();
  // A directory others may write to is refused: a configuration error naming it.
  ::chmod(dir.c_str(), 0777);
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 3) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: " + h.conf_dir() +
                                     "/scheduler.conf: [scheduler] socket: socket directory '" +
                                     dir + "' is writable by others (mode 0777)"))
      << r.output;
}

TEST(ControlSecurity, NonLoopbackListenNeedsAToken) {
  auto settings = test::HangingStep::settings();
  test::SchedulerHarness h(settings);
  h.settings().extra_scheduler = "auth_token = t0ken";
  h.write_conf();
  // Line 2 is the harness's `listen = 127.0.0.1`: rewrite it.
  std::string conf = h.conf_dir() + "/scheduler.conf";
  std::string text = read_text(conf);
  text.replace(text.find("listen = 127.0.0.1"), 18, "listen = 0.0.0.0");
  std::ofstream(conf, std::ios::trunc) << text;
  // With the token it starts (and listens on every address).
  const pid_t pid = h.start().pid();  // (the Child goes with stop())
  ASSERT_TRUE(test::eventually([&] { return contains(h.log(), "scheduler started"); })) << h.log();
  h.stop();
  EXPECT_NE(pid, 0);
  // Without it: exit 3 naming scheduler.conf:2.
  text.replace(text.find("auth_token = t0ken"), 18, "# no token        ");
  std::ofstream(conf, std::ios::trunc) << text;
  auto r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 3) << r.output;
  EXPECT_TRUE(contains(r.output, conf + ":2: [scheduler] listen: '0.0.0.0' is not a loopback "
                                        "address and no auth_token is set"))
      << r.output;
  // A name that does not resolve: exit 3 too (not 5, "cannot bind"), naming the line.
  text.replace(text.find("listen = 0.0.0.0"), 16, "listen = no-such-host.invalid");
  std::ofstream(conf, std::ios::trunc) << text;
  r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 3) << r.output;
  EXPECT_TRUE(contains(r.output, "scheduler: " + conf +
                                     ":2: [scheduler] listen: cannot resolve "
                                     "'no-such-host.invalid': "))
      << r.output;
}

TEST(DropRoot, UserNobodyRunsTheSchedulerAndItsAgents) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  auto settings = test::fast_settings();
  settings.agents = {test::fake_agent("ok")};
  settings.extra_scheduler = "user = nobody";
  test::SchedulerHarness h(settings);
  // What nobody needs afterwards: to reach the agents (the build tree) and <log_dir>/jobs
  // (the scheduler gives it that directory); the conf dir is the test's 0700 temp dir.
  ::chmod(h.conf_dir().c_str(), 0755);
  h.start();
  ASSERT_TRUE(test::eventually([&] { return contains(h.log(), "running as user nobody"); }))
      << h.log();
  pid_t pid = h.process()->pid();
  std::string uid = std::to_string(nobody->pw_uid);
  EXPECT_EQ(proc_status(pid, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);
  std::string gid = std::to_string(nobody->pw_gid);
  EXPECT_EQ(proc_status(pid, "Gid"), gid + "\t" + gid + "\t" + gid + "\t" + gid);
  // A step runs, its log is written, the control socket answers root.
  long long jq = h.queue("ok", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.log();
  EXPECT_TRUE(contains(h.step_log(jq), "JOB[" + test::pk(jq) + "]"))
      << h.column(jq, "jq_log") << ": " << h.step_log(jq) << "\n"
      << h.log();
  EXPECT_EQ(h.control("status").at(0), "received");
  struct stat st {};
  ASSERT_EQ(::stat((h.conf_dir() + "/log/jobs").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  h.stop();
  EXPECT_EQ(h.last_status(), 0) << h.log();
}

TEST(DropRoot, AUserThatDoesNotExistIsAClearError) {
  test::SchedulerHarness h(test::fast_settings());
  auto r = h.run(
      {"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr", "--user", "no_such_user_x"},
      30s);
  if (::geteuid() != 0) {
    GTEST_SKIP() << "not root: --user is ignored with a warning";
  }
  EXPECT_EQ(r.exit_code(), 2) << r.output;
  EXPECT_TRUE(contains(
      r.output,
      "scheduler: --user: no user 'no_such_user_x' on this system; expected an existing user name"))
      << r.output;
  h.settings().extra_scheduler = "user = no_such_user_x";
  h.write_conf();
  r = h.run({"-c", h.conf_dir(), "--db", h.db().conninfo(), "-L", "stderr"}, 30s);
  EXPECT_EQ(r.exit_code(), 3) << r.output;
  EXPECT_TRUE(contains(r.output, h.conf_dir() + "/scheduler.conf:")) << r.output;
  EXPECT_TRUE(contains(r.output, ": [scheduler] user: no user 'no_such_user_x' on this system"))
      << r.output;
}

TEST(AgentEnvironment, NoPasswordNoPassfileNoSchedulerFd) {
  auto settings = test::fast_settings();
  settings.agents = {test::fake_agent("env", "--print-env --print-fds")};
  test::SchedulerHarness h(settings);
  // The conninfo (with a password: trust ignores it) from scheduler.conf, PGPASSWORD and
  // PGPASSFILE in the scheduler's environment.
  std::string conf = h.conf_dir() + "/scheduler.conf";
  std::string text = read_text(conf);
  text += "[database]\nconninfo = " + h.db().conninfo() + " password=hunter3-conninfo\n";
  std::ofstream(conf, std::ios::trunc) << text;
  test::Child::Options opts;
  opts.merge_stderr = true;
  opts.env = {{"PGPASSWORD", "hunter2-env"}, {"PGPASSFILE", h.conf_dir() + "/hunter4-passfile"}};
  test::Child sched({test::build_dir() + "/scheduler/scheduler", "-c", h.conf_dir(), "-L",
                     h.log_path(), "-v", "2"},
                    opts);
  long long jq = h.queue("env", "x");
  ASSERT_TRUE(h.wait_ended(jq, 30s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.log();
  std::string log = h.step_log(jq);
  EXPECT_TRUE(contains(log, "env: PATH=")) << log;  // it did print its environment
  EXPECT_TRUE(contains(log, "argv: ")) << log;
  EXPECT_TRUE(contains(log, "fds: 0 1 2\"")) << log;
  for (const char* secret : {"hunter", "PGPASSWORD", "PGPASSFILE", "password"})
    EXPECT_FALSE(contains(log, secret)) << secret << " in\n" << log;
  sched.signal(SIGTERM);
  EXPECT_TRUE(sched.wait(30s).has_value());
}

}  // namespace
