// What both control-interface clients share (common/control_protocol.hpp) and the asynchronous
// client (common/control_async.hpp) against a fake scheduler: a real Unix socket served by a
// thread, the client on the default main context iterated by hand.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "control_async.hpp"
#include "control_protocol.hpp"
#include "event_loop.hpp"

namespace {

using namespace std::chrono_literals;
using jobctl::ControlError;
using jobctl::ControlResult;
using jobctl::ReplyParser;
using Lines = std::vector<std::string>;

TEST(ReplyParser, RepliesEndAtEndOrCloseAndComeInAnyChunks) {
  ReplyParser p("unix:/s");
  const std::string bytes = "received\na b\nc\nend\nreceived\nCLOSE\nInvalid command: \"x\"\nend\n";
  std::vector<Lines> replies;
  for (char c : bytes) {  // one byte at a time
    p.append(std::string_view(&c, 1));
    while (auto r = p.next()) replies.push_back(*r);
  }
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0], (Lines{"a b", "c"}));
  EXPECT_EQ(replies[1], Lines{});
  EXPECT_EQ(replies[2], Lines{"Invalid command: \"x\""});
  EXPECT_FALSE(p.next());
}

TEST(ReplyParser, AnErrorBeforeReceivedEndsTheReply) {
  ReplyParser p("tcp:h:1");
  p.append("ERROR: authentication failed: wrong token\nreceived\nend\n");
  EXPECT_EQ(p.next(), Lines{"ERROR: authentication failed: wrong token"});
  EXPECT_EQ(p.next(), Lines{});
  // After `received`, an error line is part of the reply.
  p.append("received\nERROR: no such step\nend\n");
  EXPECT_EQ(p.next(), Lines{"ERROR: no such step"});
}

TEST(ReplyParser, ALongLineIsAnErrorNamingWhere) {
  ReplyParser p("unix:/the/socket");
  p.append(std::string(ReplyParser::kMaxLine + 1, 'x'));
  try {
    p.next();
    FAIL() << "no error";
  } catch (const ControlError& e) {
    EXPECT_NE(std::string(e.what()).find("unix:/the/socket: a reply line longer than"),
              std::string::npos)
        << e.what();
  }
}

TEST(ControlPlaces, SocketFirstThenTcpAuthOnlyOverTcp) {
  sched::Config c;
  c.conf_dir = "/etc/jl";
  c.socket = "/run/jl.sock";
  c.listen = "127.0.0.1";
  c.port = 4000;
  c.auth_token = "t";
  auto places = jobctl::control_places(c);
  ASSERT_EQ(places.size(), 2u);
  EXPECT_EQ(places[0].where(), "unix:/run/jl.sock");
  EXPECT_EQ(places[1].where(), "tcp:127.0.0.1:4000");
  EXPECT_EQ(jobctl::auth_line(c, places[0]), "");
  EXPECT_EQ(jobctl::auth_line(c, places[1]), "auth t");
  EXPECT_EQ(jobctl::unreachable_message("/etc/jl", {{places[0], "gone"}, {places[1], "refused"}}),
            "cannot reach the scheduler (socket /run/jl.sock: gone; 127.0.0.1:4000: refused); is "
            "it running with the conf dir /etc/jl?");
  c.socket.clear();
  c.port = 0;
  EXPECT_TRUE(jobctl::control_places(c).empty());
}

// A fake scheduler on a Unix socket: `serve(fd)` runs in a thread for the first connection.
class FakeScheduler {
 public:
  explicit FakeScheduler(std::function<void(int)> serve)
      : dir_(std::filesystem::temp_directory_path() /
             ("jl-ctl-" + std::to_string(::getpid()) + "-" + std::to_string(++count_))) {
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "s.sock").string();
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    thread_ = std::thread([this, serve] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      serve(c);
      ::close(c);
    });
  }
  ~FakeScheduler() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  static inline int count_ = 0;
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
};

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

void write_all(int fd, const std::string& s) {
  EXPECT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

std::optional<ControlResult> run(const std::string& socket, std::vector<std::string> commands,
                                 std::chrono::milliseconds timeout) {
  sched::Config c;
  c.conf_dir = "/conf";
  c.socket = socket;
  c.port = 0;
  std::optional<ControlResult> out;
  jobctl::control_async(c, std::move(commands), timeout,
                        [&](ControlResult r) { out = std::move(r); });
  EXPECT_FALSE(out) << "done ran inside the call";
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!out && std::chrono::steady_clock::now() < end) g_main_context_iteration(nullptr, TRUE);
  return out;
}

TEST(ControlAsync, CommandsOneAfterTheOtherOnOneConnection) {
  FakeScheduler fake([](int c) {
    EXPECT_EQ(read_line(c), "agents");
    write_all(c, "received\nunpack ");
    write_all(c, "scan \nend\n");
    EXPECT_EQ(read_line(c), "load");
    write_all(c, "received\nhost:a running:1\nhost:b running:0\nend\n");
  });
  auto r = run(fake.path(), {"agents", "load"}, 5000ms);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok()) << r->error;
  EXPECT_EQ(r->where, "unix:" + fake.path());
  ASSERT_EQ(r->replies.size(), 2u);
  EXPECT_EQ(r->replies[0], Lines{"unpack scan "});
  EXPECT_EQ(r->replies[1], (Lines{"host:a running:1", "host:b running:0"}));
}

// A reply that comes before its command was read: the next commands still go out one after
// the other, in order (the client queues a line while a write is pending: GIO allows one).
TEST(ControlAsync, EarlyRepliesQueueTheNextCommands) {
  FakeScheduler fake([](int c) {
    write_all(c, "received\none\nend\n");  // (at once: the client may not have written yet)
    EXPECT_EQ(read_line(c), "a");
    EXPECT_EQ(read_line(c), "b");
    write_all(c, "received\ntwo\nend\n");
    EXPECT_EQ(read_line(c), "c");
    write_all(c, "received\nthree\nend\n");
  });
  auto r = run(fake.path(), {"a", "b", "c"}, 5000ms);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok()) << r->error;
  EXPECT_EQ(r->replies, (std::vector<Lines>{{"one"}, {"two"}, {"three"}}));
}

TEST(ControlAsync, SilenceEndsAtTheTimeoutNamingWhere) {
  FakeScheduler fake([](int c) { read_line(c), read_line(c); });  // reads, never answers
  auto r = run(fake.path(), {"status"}, 300ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "unix:" + fake.path() + ": no reply within 0.3 s");
  EXPECT_TRUE(r->replies.empty());
}

TEST(ControlAsync, AClosedConnectionAndNoPlaceAreErrors) {
  FakeScheduler fake([](int c) {
    read_line(c);
    write_all(c, "received\nhalf");
  });
  auto r = run(fake.path(), {"status"}, 5000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "unix:" + fake.path() + ": the scheduler closed the connection");
  auto none = run("/nonexistent/jl.sock", {"status"}, 5000ms);
  ASSERT_TRUE(none);
  EXPECT_NE(none->error.find("cannot reach the scheduler (socket /nonexistent/jl.sock: "),
            std::string::npos)
      << none->error;
  auto nothing = run("", {"status"}, 5000ms);
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->error,
            "cannot reach the scheduler (no socket or port configured); is it running with the "
            "conf dir /conf?");
}

}  // namespace
