// Smoke tests of fake_agent (tests/agents/fake_agent.cpp), the misbehaving agent the
// scheduler's tests rely on: each behaviour they use does what its --help says.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using namespace std::chrono_literals;

std::string fake_agent() {
  return test::build_dir() + "/tests/agents/fake_agent/fake_agent";
}

// fake_agent with the scheduler's usual options in front of `own`.
test::Child start(std::vector<std::string> own) {
  std::vector<std::string> argv = {fake_agent(), "--scheduler_start",     "--jobId=1",
                                   "--jqId=2",   "--config=/nonexistent", "--userID=3",
                                   "--groupID=4"};
  argv.insert(argv.end(), own.begin(), own.end());
  return test::Child(argv);
}

int exit_code(test::Child& child) {
  auto status = child.wait(10s);
  if (!status) return -100;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -WTERMSIG(*status);
}

TEST(FakeAgent, OkProcessesEachLineAndExitsZeroAtEof) {
  test::Child agent(start({"--mode=ok"}));
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("a\nb\n");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(agent.read_line(), "ItemsProcessed 1");
    EXPECT_EQ(agent.read_line(), "OK");
  }
  agent.close_stdin();
  EXPECT_EQ(agent.read_line(), std::nullopt);
  EXPECT_EQ(exit_code(agent), 0);
}

TEST(FakeAgent, NoOkSaysNothingAndKeepsRunning) {
  test::Child agent(start({"--mode=no-ok"}));
  EXPECT_EQ(agent.read_line(300ms), std::nullopt);
  EXPECT_EQ(agent.wait(0ms), std::nullopt);  // still running
  agent.signal(SIGKILL);
  EXPECT_EQ(exit_code(agent), -SIGKILL);
}

TEST(FakeAgent, CrashAfterDiesOfSigsegvOnTheNextLine) {
  test::Child agent(start({"--crash-after=1"}));
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("one\ntwo\n");
  EXPECT_EQ(agent.read_line(), "ItemsProcessed 1");
  EXPECT_EQ(agent.read_line(), "OK");
  EXPECT_EQ(agent.read_line(), std::nullopt);
  EXPECT_EQ(exit_code(agent), -SIGSEGV);
}

TEST(FakeAgent, CrashCanAbort) {
  test::Child agent(start({"--mode=crash-after=0", "--crash=abort"}));
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("one\n");
  EXPECT_EQ(exit_code(agent), -SIGABRT);
}

TEST(FakeAgent, PrintFdsListsTheOpenDescriptors) {
  test::Child agent(start({"--print-fds"}));
  auto line = agent.read_line();
  ASSERT_TRUE(line.has_value());
  ASSERT_EQ(line->rfind("LOG fds: 0 1 2", 0), 0u) << *line;
  std::istringstream fds(line->substr(std::string("LOG fds:").size()));
  int fd = -1;
  while (fds >> fd) EXPECT_GE(fd, 0);
  EXPECT_TRUE(fds.eof()) << "not a list of numbers: " << *line;
  EXPECT_EQ(agent.read_line(), "OK");
}

TEST(FakeAgent, FossologyDialectWithEndCloseAndBye) {
  test::Child agent(start({"--mode=fossology", "--bye=3"}));
  EXPECT_EQ(agent.read_line(), "VERSION: fake");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "OK");
  agent.write("item\nEND\n");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "OK");
  agent.write("CLOSE\n");
  EXPECT_EQ(agent.read_line(), "HEART: 1 1");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "BYE 3");
  EXPECT_EQ(exit_code(agent), 3);
}

TEST(FakeAgent, FossologyNoByeJustExits) {
  test::Child agent(start({"--fossology", "--no-bye"}));
  ASSERT_TRUE(agent.wait_for_line("OK"));
  agent.write("CLOSE\n");
  EXPECT_EQ(agent.read_line(), "HEART: 0 1");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), std::nullopt);
  EXPECT_EQ(exit_code(agent), 0);
}

// FOSSology's before_connect and no_update test agents, in one.
TEST(FakeAgent, FossologyTextBeforeVersionNokillAndSlowExit) {
  test::Child agent(
      start({"--fossology", "--before-version=junk", "--nokill", "--exit-delay-ms=300"}));
  EXPECT_EQ(agent.read_line(), "junkVERSION: fake");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "OK");
  EXPECT_EQ(agent.read_line(), "SPECIAL: 1 1");
  agent.write("CLOSE\n");
  EXPECT_EQ(agent.read_line(200ms), std::nullopt);  // still waiting
  EXPECT_EQ(agent.read_line(), "HEART: 0 1");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "BYE 0");
  EXPECT_EQ(exit_code(agent), 0);
}

TEST(FakeAgent, FossologyByeFirstNeverSaysOk) {
  test::Child agent(start({"--fossology", "--bye-first", "--bye=2"}));
  EXPECT_EQ(agent.read_line(), "VERSION: fake");
  EXPECT_EQ(agent.read_line(), "");
  EXPECT_EQ(agent.read_line(), "BYE 2");
  EXPECT_EQ(agent.read_line(), std::nullopt);
  EXPECT_EQ(exit_code(agent), 2);
}

TEST(FakeAgent, AtEndActsWhenTheDataEnds) {
  test::Child fatal(start({"--at-end=fatal"}));
  ASSERT_EQ(fatal.read_line(), "OK");
  fatal.close_stdin();
  EXPECT_EQ(fatal.read_line(), "FATAL: something broke");
  EXPECT_EQ(exit_code(fatal), 0);

  test::Child crash(start({"--at-end=crash", "--crash=abort"}));
  ASSERT_EQ(crash.read_line(), "OK");
  crash.close_stdin();
  EXPECT_EQ(exit_code(crash), -SIGABRT);

  test::Child garbage(start({"--at-end=garbage", "--exit-code=5"}));
  ASSERT_EQ(garbage.read_line(), "OK");
  garbage.close_stdin();
  std::string rest = garbage.read_all(10s);
  EXPECT_GT(rest.size(), 100u * 1024u);
  EXPECT_EQ(exit_code(garbage), 5);
}

TEST(FakeAgent, GarbageComesBetweenOksAndWorkGoesOn) {
  test::Child agent(start({"--garbage"}));
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("x\n");
  EXPECT_EQ(agent.read_line(), "ItemsProcessed 1");
  std::vector<std::string> seen;
  ASSERT_TRUE(agent.wait_for_line("OK", 10s, &seen));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen.back().size(), 100u * 1024u);
  for (const auto& line : seen) EXPECT_GE(static_cast<unsigned char>(line.at(0)), 0x80);
  agent.close_stdin();
  EXPECT_EQ(exit_code(agent), 0);
}

TEST(FakeAgent, RecordAppendsPidAndLineAndExitCodeIsKept) {
  test::TempDir dir;
  const std::string file = dir.path() + "/record";
  test::Child agent(start({"--record=" + file, "--exit-code=7", "--window=2"}));
  ASSERT_EQ(agent.read_line(), "WINDOW 2");
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("first line\nsecond\n");
  agent.close_stdin();
  EXPECT_EQ(exit_code(agent), 7);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string pid = std::to_string(agent.pid());
  EXPECT_EQ(text.str(), pid + " first line\n" + pid + " second\n");
}

TEST(FakeAgent, ExitEarlyTakesOneLineWithoutAcknowledgingIt) {
  test::Child agent(start({"--mode=exit-early"}));
  ASSERT_EQ(agent.read_line(), "OK");
  agent.write("x\n");
  EXPECT_EQ(agent.read_line(), std::nullopt);
  EXPECT_EQ(exit_code(agent), 0);
}

TEST(FakeAgent, BadOptionIsAUsageError) {
  test::Child agent(start({"--no-such-thing"}));
  EXPECT_EQ(exit_code(agent), 64);
}

}  // namespace
