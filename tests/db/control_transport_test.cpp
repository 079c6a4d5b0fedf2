// Every control-interface command (SPEC §7) on a real scheduler, over the Unix socket and over
// TCP: status (all, one step), load, agents, verbose (read, set, one step's), priority, pause,
// restart, kill (a held step, a missing one), reload, database, close, stop and die.
#include <gtest/gtest.h>

#include <string>

#include "scheduler_test_util.hpp"

namespace test {
// For gtest's names of the parameter (ADL finds it next to SchedulerHarness).
inline void PrintTo(SchedulerHarness::Transport t, std::ostream* os) {
  *os << (t == SchedulerHarness::Transport::kUnix ? "unix socket" : "tcp");
}
}  // namespace test

namespace {

using namespace test;
using namespace std::chrono_literals;
using Transport = SchedulerHarness::Transport;

class ControlTransport : public ::testing::TestWithParam<Transport> {
 protected:
  std::vector<std::string> send(SchedulerHarness& h, const std::string& command) {
    return h.control_over(GetParam(), command);
  }
  // A reply that says the command was taken: `received` ... `end`, no ERROR line.
  static void expect_done(const std::vector<std::string>& reply) {
    ASSERT_FALSE(reply.empty());
    EXPECT_EQ(reply.front(), "received") << joined(reply);
    EXPECT_EQ(reply.back(), "end") << joined(reply);
    EXPECT_FALSE(contains(joined(reply), "ERROR")) << joined(reply);
  }
  static bool has_line_starting(const std::vector<std::string>& reply, const std::string& head) {
    for (const auto& l : reply)
      if (l.rfind(head, 0) == 0) return true;
    return false;
  }
};

TEST_P(ControlTransport, EveryCommandAnswersAndActs) {
  HangingStep step;
  auto& h = step.h;
  const long long jq = step.jq;
  ASSERT_GT(step.pid, 0) << h.log();
  const std::string id = pk(jq);

  auto reply = send(h, "status");
  expect_done(reply);
  EXPECT_TRUE(has_line_starting(reply, "scheduler:")) << joined(reply);
  EXPECT_TRUE(has_line_starting(reply, "job:" + id + " ")) << joined(reply);

  reply = send(h, "STATUS " + id);  // command words are case-insensitive
  expect_done(reply);
  EXPECT_TRUE(has_line_starting(reply, "job:" + id + " ")) << joined(reply);
  EXPECT_TRUE(has_line_starting(reply, "agent:" + std::to_string(step.pid) + " ")) << joined(reply);

  reply = send(h, "load");
  expect_done(reply);
  EXPECT_TRUE(has_line_starting(reply, "host:localhost ")) << joined(reply);
  EXPECT_TRUE(contains(joined(reply), "running:1")) << joined(reply);

  reply = send(h, "agents");
  expect_done(reply);
  EXPECT_TRUE(contains(joined(reply), "hang")) << joined(reply);

  expect_done(send(h, "verbose 1"));
  reply = send(h, "verbose");
  expect_done(reply);
  EXPECT_TRUE(contains(joined(reply), "level: 1")) << joined(reply);
  expect_done(send(h, "verbose " + id + " 2"));

  expect_done(send(h, "priority " + id + " 7"));
  EXPECT_TRUE(eventually(
      [&] {
        return h.db().query(
                   "SELECT job_priority FROM job JOIN jobqueue ON jq_job_fk = job_pk "
                   "WHERE jq_pk = " +
                   id) == "7";
      },
      10s));

  expect_done(send(h, "pause " + id));
  EXPECT_TRUE(eventually([&] { return h.endtext(jq) == "Paused"; }, 10s));
  expect_done(send(h, "restart " + id));
  EXPECT_TRUE(eventually([&] { return h.endtext(jq) != "Paused"; }, 10s));

  reply = send(h, "kill 999999 \"nothing there\"");
  EXPECT_EQ(joined(reply), "received\nERROR: step 999999 does not exist\nend\n");

  expect_done(send(h, "reload"));
  EXPECT_TRUE(eventually([&] { return contains(h.log(), "configuration reloaded"); }, 10s))
      << h.log();
  expect_done(send(h, "database"));

  expect_done(send(h, "kill " + id + " \"by the test\""));
  ASSERT_TRUE(h.wait_ended(jq, 10s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "killed: by the test");
  EXPECT_TRUE(eventually([&] { return !process_alive(step.pid); }, 10s));

  reply = send(h, "close");
  EXPECT_EQ(joined(reply), "received\nCLOSE\n");
  expect_done(send(h, "status"));  // the scheduler serves on after a client's close

  reply = send(h, "stop");
  EXPECT_EQ(joined(reply), "received\nCLOSE\n");
  auto status = h.process()->wait(30s);
  ASSERT_TRUE(status.has_value()) << h.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

TEST_P(ControlTransport, DieKillsTheAgentsFailsTheirStepsAndExits) {
  HangingStep step;
  auto& h = step.h;
  ASSERT_GT(step.pid, 0) << h.log();
  auto reply = send(h, "die");
  EXPECT_EQ(joined(reply), "received\nCLOSE\n");
  auto status = h.process()->wait(30s);
  ASSERT_TRUE(status.has_value()) << h.log();
  EXPECT_TRUE(eventually([&] { return !process_alive(step.pid); }, 10s));
  EXPECT_EQ(h.end_bits(step.jq), 2) << h.endtext(step.jq);
}

INSTANTIATE_TEST_SUITE_P(Both, ControlTransport,
                         ::testing::Values(Transport::kUnix, Transport::kTcp),
                         [](const auto& info) {
                           return info.param == Transport::kUnix ? std::string("UnixSocket")
                                                                 : std::string("Tcp");
                         });

}  // namespace
