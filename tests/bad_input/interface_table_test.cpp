// Bad input, part 5: control interface commands (SPEC §7). Each row is one command line sent
// to a running scheduler and its exact reply; the step running meanwhile is untouched and the
// scheduler keeps answering and running steps. A second table: TCP clients of a scheduler
// with an auth_token, each row on a connection of its own.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "bad_input_util.hpp"
#include "scheduler_harness.hpp"
#include "scheduler_test_util.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using test::bad_input::fill;

struct CommandRow {
  std::string name;
  std::string command;             // {pk}: the running step; {done}: a completed one
  std::vector<std::string> reply;  // every line, through `end`
};

std::vector<std::string> invalid(const std::string& verb, const std::string& line) {
  return {"received", fmt::format("ERROR: invalid {} command: \"{}\"", verb, line), "end"};
}

std::vector<CommandRow> rows() {
  return {
      {"UnknownCommand", "frobnicate 1", {"Invalid command: \"frobnicate 1\"", "end"}},
      {"NotUtf8", "\xff\xfe", {"Invalid command: \"\xff\xfe\"", "end"}},
      {"UnbalancedQuote",
       "kill {pk} \"no end",
       {"Invalid command: \"kill {pk} \"no end\": Text ended before matching quote was found for "
        "\". (The text was “kill {pk} \"no end”)",
        "end"}},
      {"OverlongLine", std::string(5000, 'x'), {"Invalid command: line too long", "end"}},
      {"KillWithoutArguments", "kill", invalid("kill", "kill")},
      {"KillWithoutMessage", "kill {pk}", invalid("kill", "kill {pk}")},
      {"KillNotAStep", "kill first \"x\"", invalid("kill", "kill first x")},
      {"PauseNotANumber", "pause abc", invalid("pause", "pause abc")},
      {"PauseTooManyArguments", "pause {pk} now", invalid("pause", "pause {pk} now")},
      {"RestartWithoutStep", "restart", invalid("restart", "restart")},
      {"PriorityWords", "priority x y", invalid("priority", "priority x y")},
      {"PriorityNotANumber", "priority {pk} high", invalid("priority", "priority {pk} high")},
      {"VerboseWord", "verbose loud", invalid("verbose", "verbose loud")},
      {"VerboseOfNoStep",
       "verbose 999999 2",
       {"received", "ERROR: invalid job id = 999999", "end"}},
      {"StatusOfNoStep", "status 999999", {"received", "ERROR: invalid job id = 999999", "end"}},
      {"StatusOfAWord", "status abc", {"received", "ERROR: invalid job id = abc", "end"}},
      {"PriorityOutOfRange", "priority {pk} 99999999999",
       invalid("priority", "priority {pk} 99999999999")},
      // Steps the scheduler does not hold are looked up in jobqueue before the answer.
      {"KillOfNoStep",
       "kill 999999 \"x\"",
       {"received", "ERROR: step 999999 does not exist", "end"}},
      {"PauseOfNoStep", "pause 999999", {"received", "ERROR: step 999999 does not exist", "end"}},
      {"RestartOfNoStep",
       "restart 999999",
       {"received", "ERROR: step 999999 does not exist", "end"}},
      {"PriorityOfNoStep",
       "priority 999999 3",
       {"received", "ERROR: step 999999 does not exist", "end"}},
      {"KillOfAnEndedStep",
       "kill {done} x",
       {"received", "ERROR: step {done} has already ended: Completed", "end"}},
      {"PauseOfAnEndedStep",
       "pause {done}",
       {"received", "ERROR: step {done} has already ended: Completed", "end"}},
      {"RestartOfAnEndedStep",
       "restart {done}",
       {"received", "ERROR: step {done} has already ended: Completed", "end"}},
      // The Unix socket needs no token: `auth` there is accepted as it is.
      {"AuthOnTheUnixSocket", "auth whatever", {"received", "end"}},
  };
}

TEST(BadCommands, EachGetsItsExactReplyAndNothingElseChanges) {
  auto settings = test::bad_input::settings();
  settings.agents = {test::fake_agent("hang", "--hang"), test::fake_agent("ok")};
  test::SchedulerHarness h(settings);
  h.start();
  long long done = h.queue("ok", "x");
  ASSERT_TRUE(h.wait_ended(done, 60s)) << h.log();
  ASSERT_EQ(h.endtext(done), "Completed");
  long long jq = h.queue("hang", "x");  // a step whose agent hangs after its OK
  ASSERT_TRUE(h.wait_started(jq, 60s)) << h.log();
  pid_t pid = test::agent_pid(h, jq);
  ASSERT_GT(pid, 0) << h.log();
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.name);
    std::vector<std::string> expected;
    const std::vector<std::pair<std::string, std::string>> values{{"pk", test::pk(jq)},
                                                                  {"done", test::pk(done)}};
    for (const auto& l : row.reply) expected.push_back(fill(l, values));
    EXPECT_EQ(h.control(fill(row.command, values)), expected);
  }
  // The running step was neither killed nor paused, and the scheduler still takes work.
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  EXPECT_EQ(test::process_state(pid), 'S');
  auto status = h.control("status " + test::pk(jq));
  ASSERT_EQ(status.size(), 4u) << test::joined(status);
  EXPECT_EQ(status[0], "received");
  EXPECT_EQ(status[1].rfind(fmt::format("job:{} status:", jq), 0), 0u) << status[1];
  EXPECT_EQ(h.control("reload"), (std::vector<std::string>{"received", "end"}));
  long long good = h.queue("ok", "fine");
  ASSERT_TRUE(h.wait_ended(good, 60s)) << h.log();
  EXPECT_EQ(h.endtext(good), "Completed");
}

// ---- TCP clients and auth_token --------------------------------------------------------

struct AuthRow {
  std::string name;
  std::vector<std::string> send;   // lines sent on one new TCP connection
  std::vector<std::string> reply;  // every line received; "<eof>": the scheduler closed it
};

const std::string kToken = "s3cret";

std::vector<AuthRow> auth_rows() {
  const std::string required = "ERROR: authentication required";
  const std::string wrong = "ERROR: authentication failed: wrong token";
  return {
      {"CommandBeforeAuth", {"status"}, {required}},
      {"StopBeforeAuth", {"stop"}, {required}},
      {"KillBeforeAuth", {"kill {pk} x"}, {required}},
      {"UnknownBeforeAuth", {"frobnicate"}, {required}},
      {"EveryCommandBeforeAuth", {"status", "load"}, {required, required}},
      {"WrongToken", {"auth nope"}, {wrong, "<eof>"}},
      {"EmptyToken", {"auth"}, {wrong, "<eof>"}},
      {"TokenCaseMatters", {"auth S3CRET"}, {wrong, "<eof>"}},
      {"TokenPrefix", {"auth s3cre"}, {wrong, "<eof>"}},
      {"NothingAfterAWrongToken", {"auth nope", "status"}, {wrong, "<eof>"}},
      {"RightToken",
       {"auth " + kToken, "status 999999"},
       {"received", "end", "received", "ERROR: invalid job id = 999999", "end"}},
      {"AuthWordAnyCase",
       {"AUTH " + kToken, "kill 999999 x"},
       {"received", "end", "received", "ERROR: step 999999 does not exist", "end"}},
      {"AuthAgain", {"auth " + kToken, "auth " + kToken}, {"received", "end", "received", "end"}},
  };
}

// Sends the lines on a new TCP connection and reads `n` lines (or up to EOF); the last of
// the n (the check that nothing more comes) is waited for briefly only.
std::vector<std::string> tcp_exchange(int port, const std::vector<std::string>& send, std::size_t n,
                                      bool last_brief) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {"<cannot connect>"};
  }
  std::string out;
  for (const auto& l : send) out += l + "\n";
  (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  std::vector<std::string> lines;
  std::string buf;
  while (lines.size() < n) {
    if (auto nl = buf.find('\n'); nl != std::string::npos) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, last_brief && lines.size() + 1 == n ? 300 : 10'000) <= 0) {
      lines.push_back("<timeout>");
      break;
    }
    char chunk[4096];
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got <= 0) {
      lines.push_back("<eof>");
      break;
    }
    buf.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return lines;
}

TEST(BadCommands, TcpClientsWithoutTheTokenGetOneErrorLineAndNothingElse) {
  auto settings = test::bad_input::settings();
  settings.agents = {test::fake_agent("hang", "--hang")};
  settings.extra_scheduler = "auth_token = " + kToken;
  test::SchedulerHarness h(settings);
  h.start();
  long long jq = h.queue("hang", "x");
  ASSERT_TRUE(h.wait_started(jq, 60s)) << h.log();
  pid_t pid = test::agent_pid(h, jq);
  for (const auto& row : auth_rows()) {
    SCOPED_TRACE(row.name);
    std::vector<std::string> send;
    for (const auto& l : row.send) send.push_back(fill(l, {{"pk", test::pk(jq)}}));
    // One line more than expected when the row ends open: nothing else may come.
    bool ends_closed = row.reply.back() == "<eof>";
    auto got = tcp_exchange(h.port(), send, row.reply.size() + (ends_closed ? 0 : 1), !ends_closed);
    auto expected = row.reply;
    if (!ends_closed) expected.push_back("<timeout>");
    EXPECT_EQ(got, expected);
  }
  EXPECT_EQ(h.column(jq, "jq_endtime"), "");
  EXPECT_EQ(test::process_state(pid), 'S');
  EXPECT_EQ(h.control("status").at(0), "received");  // not stopped
}

}  // namespace
