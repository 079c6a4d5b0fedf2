// Process tests of agent::Session (session.hpp), acting as the scheduler: the session_agent
// test agent runs on pipes and every line it writes is parsed with the codec.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "agent/protocol.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
namespace proto = agent::protocol;
namespace msg = agent::protocol::msg;

std::string session_agent() {
  return test::build_dir() + "/tests/agents/session_agent/session_agent";
}

// Every line a seed agent writes must parse as a known message.
proto::AgentMessage parse(const std::string& line) {
  auto parsed = proto::parse_agent_line(line, proto::Dialect::Seed);
  EXPECT_TRUE(parsed.has_value()) << "blank line";
  if (!parsed) return msg::Text{line};
  return *parsed;
}

// Reads lines up to the next OK; returns the messages before it. Fails on EOF or timeout.
std::vector<proto::AgentMessage> until_ok(test::Child& child, std::chrono::milliseconds t = 30s) {
  std::vector<proto::AgentMessage> seen;
  for (;;) {
    auto line = child.read_line(t);
    if (!line) {
      ADD_FAILURE() << "no OK after " << seen.size() << " lines";
      return seen;
    }
    auto m = parse(*line);
    if (std::holds_alternative<msg::Ok>(m)) return seen;
    seen.push_back(std::move(m));
  }
}

template <typename T>
std::size_t count_of(const std::vector<proto::AgentMessage>& ms) {
  std::size_t n = 0;
  for (const auto& m : ms) n += std::holds_alternative<T>(m) ? 1u : 0u;
  return n;
}

bool contains(const std::vector<proto::AgentMessage>& ms, const proto::AgentMessage& m) {
  for (const auto& x : ms) {
    if (x == m) return true;
  }
  return false;
}

msg::Log log(std::string text, proto::Level level = proto::Level::Log) {
  return msg::Log{level, std::move(text)};
}

void expect_exit(test::Child& child, int code) {
  auto status = child.wait(10s);
  ASSERT_TRUE(status.has_value()) << "still running";
  ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), code);
}

// ---- (a) the OK/next() loop -------------------------------------------------------------------
TEST(Session, OkNextLoopAcknowledgesEachItemAndExitsZeroAtEof) {
  test::Child agent({session_agent(), "--scheduler_start", "--jobId=1", "--jqId=2"});
  ASSERT_EQ(agent.read_line(), "OK");
  for (std::string item : {"first", "second item"}) {
    agent.write(item + "\n");
    auto before_ok = until_ok(agent);
    EXPECT_TRUE(contains(before_ok, log("item " + item)));
    EXPECT_TRUE(contains(before_ok, msg::ItemsProcessed{1}));
  }
  agent.close_stdin();
  EXPECT_EQ(agent.read_line(), std::nullopt);
  expect_exit(agent, 0);
}

// The Session waits for a line with a blocking read(2); a stdin set non-blocking (EAGAIN) makes
// it poll instead, and every line still arrives, however slowly they come.
TEST(Session, ANonBlockingStdinStillWaitsForEachLine) {
  test::Child agent({session_agent(), "--scheduler_start", "--nonblocking-stdin"});
  ASSERT_EQ(agent.read_line(), "OK");
  for (std::string item : {"first", "second"}) {
    std::this_thread::sleep_for(50ms);  // the agent is waiting when the line comes
    agent.write(item + "\n");
    EXPECT_TRUE(contains(until_ok(agent), log("item " + item)));
  }
  agent.close_stdin();
  EXPECT_EQ(agent.read_line(), std::nullopt);
  expect_exit(agent, 0);
}

TEST(Session, NoDataAtAllIsAQuietSuccess) {
  test::Child agent({session_agent(), "--scheduler_start"});
  ASSERT_EQ(agent.read_line(), "OK");
  agent.close_stdin();
  EXPECT_EQ(agent.read_all(), "");
  expect_exit(agent, 0);
}

TEST(Session, BlankLinesAreNotItems) {
  test::Child agent({session_agent(), "--scheduler_start"});
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("\n  \nx\n");
  auto before_ok = until_ok(agent);
  EXPECT_EQ(count_of<msg::ItemsProcessed>(before_ok), 1u);
  EXPECT_TRUE(contains(before_ok, log("item x")));
}

TEST(Session, OverlongLineIsSkippedReportedAndAcknowledged) {
  test::Child agent({session_agent(), "--scheduler_start"});
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write(std::string(proto::max_line_bytes + 100, 'y') + "\n");
  auto before_ok = until_ok(agent);  // the overlong line's own acknowledgement
  ASSERT_EQ(before_ok.size(), 1u);
  const auto* error = std::get_if<msg::Log>(&before_ok[0]);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->level, proto::Level::Error);
  EXPECT_EQ(error->text.rfind("input line longer than 65536 bytes skipped: 'yyy", 0), 0u);
  agent.write("x\n");
  before_ok = until_ok(agent);
  EXPECT_TRUE(contains(before_ok, log("item x")));
  EXPECT_EQ(count_of<msg::ItemsProcessed>(before_ok), 1u);
}

// ---- (b) the heartbeat keeps going while the agent's code is busy -----------------------------
TEST(Session, HeartbeatKeepsBeatingWhileTheItemHandlerSleeps) {
  test::Child agent(
      {session_agent(), "--scheduler_start", "--heartbeat-ms=100", "--sleep-ms=1000"});
  ASSERT_TRUE(agent.wait_for_line("OK", 10s));
  agent.write("slow\n");
  auto before_ok = until_ok(agent);
  EXPECT_GE(count_of<msg::Heartbeat>(before_ok), 5u);
  EXPECT_TRUE(contains(before_ok, log("item slow")));
  agent.close_stdin();
  expect_exit(agent, 0);
}

// ---- (c) one writer: lines never interleave ---------------------------------------------------
TEST(Session, HeartbeatAndAFloodOfLogsNeverInterleave) {
  constexpr int kFlood = 20'000;
  test::Child agent({session_agent(), "--scheduler_start", "--heartbeat-ms=1",
                     "--flood=" + std::to_string(kFlood)});
  agent.write("x\n");
  agent.close_stdin();
  std::size_t flood = 0, heartbeats = 0, items = 0, oks = 0;
  while (auto line = agent.read_line(60s)) {
    const auto m = parse(*line);
    if (const auto* l = std::get_if<msg::Log>(&m)) {
      EXPECT_EQ(l->level, proto::Level::Log);
      if (l->text.rfind("flood ", 0) == 0) {
        EXPECT_EQ(l->text, "flood " + std::to_string(flood)) << "lost or out of order";
        ++flood;
      } else {
        EXPECT_EQ(l->text, "item x");
      }
    } else if (std::holds_alternative<msg::Heartbeat>(m)) {
      ++heartbeats;
    } else if (std::holds_alternative<msg::ItemsProcessed>(m)) {
      ++items;
    } else if (std::holds_alternative<msg::Ok>(m)) {
      ++oks;
    } else {
      ADD_FAILURE() << "unexpected line '" << *line << "'";
    }
  }
  EXPECT_EQ(flood, static_cast<std::size_t>(kFlood));
  EXPECT_EQ(items, 1u);
  EXPECT_EQ(oks, 2u);  // ready, then the ack of x
  EXPECT_GT(heartbeats, 0u);
  expect_exit(agent, 0);
}

// ---- (d) standalone mode ----------------------------------------------------------------------
TEST(Session, StandaloneTakesItemsFromArgvWithoutProtocolOutput) {
  test::Child agent({session_agent(), "--heartbeat-ms=1", "--sleep-ms=50", "alpha", "beta"});
  agent.close_stdin();
  EXPECT_EQ(agent.read_all(), "");
  EXPECT_EQ(agent.read_stderr_all(), "LOG: item alpha\nLOG: item beta\n");
  expect_exit(agent, 0);
}

TEST(Session, StandaloneTakesItemsFromStdinWhenThereAreNoArguments) {
  test::Child agent({session_agent(), "--jobId=3"});
  agent.write("one\n\ntwo\nlast-without-newline");
  agent.close_stdin();
  EXPECT_EQ(agent.read_all(), "");
  EXPECT_EQ(agent.read_stderr_all(),
            "LOG: item one\nLOG: item two\nLOG: item last-without-newline\n");
  expect_exit(agent, 0);
}

// ---- (f) the scheduler goes away --------------------------------------------------------------
// An agent on raw pipes, so that the test can close the read end of the agent's stdout.
struct RawAgent {
  explicit RawAgent(std::vector<std::string> argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe");
    pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_agent = in[1];
    from_agent = out[0];
  }
  ~RawAgent() {
    if (to_agent >= 0) ::close(to_agent);
    if (from_agent >= 0) ::close(from_agent);
    if (status < 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  bool read_ok() {  // the first line must be OK
    std::string got;
    char c = 0;
    while (got.size() < 3 && ::read(from_agent, &c, 1) == 1) got += c;
    return got == "OK\n";
  }
  bool exited_within(std::chrono::milliseconds limit) {
    return test::eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
  }
  pid_t pid = -1;
  int to_agent = -1, from_agent = -1;
  int status = -1;
};

TEST(Session, BusyAgentEndsPromptlyWhenItsStdoutReaderIsGone) {
  RawAgent agent({session_agent(), "--scheduler_start", "--heartbeat-ms=50", "--sleep-ms=600000"});
  ASSERT_TRUE(agent.read_ok());
  ASSERT_EQ(::write(agent.to_agent, "busy\n", 5), 5);
  ::close(std::exchange(agent.from_agent, -1));
  ASSERT_TRUE(agent.exited_within(5s)) << "agent still busy ten minutes later";
  // The heartbeat found EPIPE and ended the process like the scheduler's kill would.
  ASSERT_TRUE(WIFSIGNALED(agent.status));
  EXPECT_EQ(WTERMSIG(agent.status), SIGTERM);
}

TEST(Session, WithoutHeartbeatTheNextWriteEndsTheLoop) {
  RawAgent agent({session_agent(), "--scheduler_start", "--heartbeat-ms=0", "--sleep-ms=200"});
  ASSERT_TRUE(agent.read_ok());
  ASSERT_EQ(::write(agent.to_agent, "a\n", 2), 2);
  ::close(std::exchange(agent.from_agent, -1));
  // Its log write fails with EPIPE (not a SIGPIPE death); next() then returns nullopt.
  ASSERT_TRUE(agent.exited_within(5s));
  ASSERT_TRUE(WIFEXITED(agent.status)) << agent.status;
  EXPECT_EQ(WEXITSTATUS(agent.status), 0);
}

// ---- (g) DB: requests -------------------------------------------------------------------------
TEST(Session, DbRequestReturnsTheRowsAndDbErrorBecomesAnError) {
  const std::string sql = "SELECT id, name FROM t";
  test::Child agent({session_agent(), "--scheduler_start", "--query=" + sql});
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("one\n");
  auto line = agent.read_line();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(parse(*line), proto::AgentMessage(msg::Db{sql}));
  agent.write("DBSTART\nid='1' name='a b'\nid='2' name=\nDBEOF\n");
  auto before_ok = until_ok(agent);
  EXPECT_TRUE(contains(before_ok, log("row 0: id=1 name=a b")));
  EXPECT_TRUE(contains(before_ok, log("row 1: id=2 name=<null>")));
  EXPECT_TRUE(contains(before_ok, log("item one")));

  agent.write("two\n");
  ASSERT_TRUE(agent.read_line().has_value());  // DB: ...
  agent.write("DBERROR relation \"t\" does not exist\n");
  before_ok = until_ok(agent);
  EXPECT_TRUE(
      contains(before_ok, log("db error: relation \"t\" does not exist", proto::Level::Error)));
  EXPECT_TRUE(contains(before_ok, log("item two")));
  agent.close_stdin();
  expect_exit(agent, 0);
}

TEST(Session, DataLinesAlreadySentBeforeTheDbReplyAreKept) {
  test::Child agent({session_agent(), "--scheduler_start", "--window=2", "--query=SELECT 1"});
  ASSERT_EQ(agent.read_line(), "WINDOW 2");
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("one\ntwo\n");  // the window allows both; the DB: request comes after them
  for (const char* item : {"one", "two"}) {
    ASSERT_TRUE(agent.wait_for_line("DB: SELECT 1", 10s));
    agent.write("DBSTART\n?column?='1'\nDBEOF\n");
    auto before_ok = until_ok(agent);
    EXPECT_TRUE(contains(before_ok, log("row 0: ?column?=1")));
    EXPECT_TRUE(contains(before_ok, log(std::string("item ") + item)));
  }
  agent.close_stdin();
  expect_exit(agent, 0);
}

// ---- (h) WINDOW -------------------------------------------------------------------------------
TEST(Session, WindowAgentTakesFourLinesAtOnce) {
  test::Child agent({session_agent(), "--scheduler_start", "--window=4"});
  ASSERT_EQ(agent.read_line(), "WINDOW 4");
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("1\n2\n3\n4\n");
  std::vector<proto::AgentMessage> all;
  for (int i = 0; i < 4; ++i) {
    auto before_ok = until_ok(agent);
    all.insert(all.end(), before_ok.begin(), before_ok.end());
  }
  EXPECT_EQ(count_of<msg::ItemsProcessed>(all), 4u);
  EXPECT_EQ(agent.read_line(300ms), std::nullopt);  // no fifth OK before more data
  agent.close_stdin();
  expect_exit(agent, 0);
}

// session_agent at WINDOW 8 that writes nothing of its own for an item, so that only its OKs
// are seen; heartbeat_ms "0": no heartbeat. With `packets`, each write(2) of it is read apart.
test::Child quiet_window_agent(const std::string& heartbeat_ms, bool packets = false) {
  test::Child::Options options;
  options.stdout_packets = packets;
  return test::Child({session_agent(), "--scheduler_start", "--window=8", "--quiet",
                      "--heartbeat-ms=" + heartbeat_ms},
                     options);
}

// With WINDOW 8 and the next line already read, next() holds each OK back, up to half the
// window, and writes the held ones together: each packet below is one write(2) of the agent.
TEST(Session, NextHoldsOksWhileTheNextLineIsHereAndWritesThemTogether) {
  test::Child agent = quiet_window_agent("0", true);
  ASSERT_EQ(agent.read_packet(), "WINDOW 8\n");
  ASSERT_EQ(agent.read_packet(), "OK\n");
  agent.write("1\n2\n3\n4\n5\n6\n7\n8\n");             // one write: the agent reads the 8 at once
  EXPECT_EQ(agent.read_packet(), "OK\nOK\nOK\nOK\n");  // half the window held: written
  EXPECT_EQ(agent.read_packet(), "OK\nOK\nOK\nOK\n");  // no line left: written before waiting
  EXPECT_EQ(agent.read_packet(300ms), std::nullopt);
  agent.close_stdin();
  EXPECT_EQ(agent.read_packet(), std::nullopt);  // EOF, nothing more
  expect_exit(agent, 0);
}

// The scheduler sends no more lines until it has OKs; so no OK may stay held while the agent
// waits for input, also when the line after the item was blank (read, but not an item).
TEST(Session, NoOkStaysHeldWhileTheAgentWaitsForInput) {
  test::Child agent = quiet_window_agent("0", true);
  ASSERT_EQ(agent.read_packet(), "WINDOW 8\n");
  ASSERT_EQ(agent.read_packet(), "OK\n");
  agent.write("1\n2\n");
  EXPECT_EQ(agent.read_packet(), "OK\nOK\n");
  agent.write("3\n \n");
  EXPECT_EQ(agent.read_packet(), "OK\n");
  agent.close_stdin();
  expect_exit(agent, 0);
}

// An OK held while the next item takes long goes out with the next heartbeat: the item below
// waits for a file that the test makes only once it has seen the first item's OK.
TEST(Session, AnOkHeldThroughASlowItemGoesOutWithTheHeartbeat) {
  test::TempDir dir;
  const std::string go = dir.path() + "/go";
  test::Child agent = quiet_window_agent("50");
  ASSERT_EQ(agent.read_line(), "WINDOW 8");
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("1\n@wait " + go + "\n");
  std::vector<std::string> seen;
  ASSERT_TRUE(agent.wait_for_line("OK", 30s, &seen)) << "the first item's OK stayed held";
  for (const auto& line : seen) EXPECT_EQ(line, "Heartbeat");
  std::ofstream(go).close();
  ASSERT_TRUE(agent.wait_for_line("OK", 30s));
  agent.close_stdin();
  expect_exit(agent, 0);
}

// An agent that leaves its loop early (here on the item `@return`) still sends the OKs of the
// items it finished: the Session's destructor writes them.
TEST(Session, OksHeldWhenTheAgentLeavesItsLoopGoOutWhenTheSessionEnds) {
  test::Child agent = quiet_window_agent("0");
  ASSERT_EQ(agent.read_line(), "WINDOW 8");
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("1\n@return\n");
  EXPECT_EQ(agent.read_line(), "OK");          // the first item's, held while @return was read
  EXPECT_EQ(agent.read_line(), std::nullopt);  // no OK for @return: the agent left before it
  expect_exit(agent, 0);
}

}  // namespace
