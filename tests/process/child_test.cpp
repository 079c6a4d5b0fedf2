// Tests of test::Child and test::run (support.hpp): lines through pipes, EOF, timeouts,
// stderr, exit statuses, and that the destructor kills the child's whole process group.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using namespace std::chrono_literals;

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

TEST(Child, CatEchoesLinesBack) {
  test::Child cat({"/bin/cat"});
  cat.write("first line\n");
  EXPECT_EQ(cat.read_line(5s), "first line");
  cat.write("second\nthird\n");
  EXPECT_EQ(cat.read_line(5s), "second");
  EXPECT_EQ(cat.read_line(5s), "third");
  cat.close_stdin();
  EXPECT_EQ(cat.read_line(5s), std::nullopt);  // EOF
  auto status = cat.wait(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(Child, ReadLineTimesOutWhenNothingComes) {
  test::Child cat({"/bin/cat"});
  EXPECT_EQ(cat.read_line(50ms), std::nullopt);
  cat.write("late\n");
  EXPECT_EQ(cat.read_line(5s), "late");
}

TEST(Child, WaitForLineCollectsTheOthers) {
  test::Child sh({"sh", "-c", "echo a; echo b; echo READY; echo after"});
  std::vector<std::string> seen;
  EXPECT_TRUE(sh.wait_for_line("READY", 5s, &seen));
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sh.read_all(5s), "after\n");
}

TEST(Child, StderrIsSeparateUnlessMerged) {
  test::Child sep({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(sep.read_all(5s), "out\n");
  EXPECT_EQ(sep.read_stderr_all(5s), "err\n");

  test::Child::Options opts;
  opts.merge_stderr = true;
  opts.env = {{"JL_TEST_VALUE", "from env"}};
  test::Child merged({"sh", "-c", "echo \"$JL_TEST_VALUE\" >&2"}, opts);
  EXPECT_EQ(merged.read_all(5s), "from env\n");
}

TEST(Child, StartingAMissingProgramThrows) {
  EXPECT_THROW(test::Child({"/nonexistent/program"}), std::runtime_error);
}

TEST(Child, DestructorKillsTheWholeProcessGroup) {
  pid_t grandchild = -1;
  {
    test::Child sh({"sh", "-c", "sleep 100 & echo $!; wait"});
    auto line = sh.read_line(5s);
    ASSERT_TRUE(line.has_value());
    grandchild = static_cast<pid_t>(std::stol(*line));
    ASSERT_GT(grandchild, 0);
    EXPECT_TRUE(process_exists(grandchild));
  }
  // The grandchild is not our child: once killed, init reaps it shortly after.
  EXPECT_TRUE(test::eventually([&] { return !process_exists(grandchild); }, 10s))
      << "grandchild " << grandchild << " survived the Child destructor";
}

TEST(Child, SignalEndsTheChild) {
  test::Child cat({"/bin/cat"});
  cat.signal(SIGTERM);
  auto status = cat.wait(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
}

TEST(Run, CollectsOutputAndExitCode) {
  auto r = test::run({"sh", "-c", "echo hello; echo oops >&2; exit 3"});
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_NE(r.output.find("hello\n"), std::string::npos);
  EXPECT_NE(r.output.find("oops\n"), std::string::npos);
}

TEST(Run, KillsTheGroupOnTimeout) {
  auto r = test::run({"sh", "-c", "echo started; sleep 100"}, {}, 200ms);
  EXPECT_EQ(r.exit_code(), -1);
  EXPECT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(r.output, "started\n");
}

TEST(Eventually, ReturnsTrueOnceThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(test::eventually([&] { return ++calls >= 3; }, 5s));
  EXPECT_FALSE(test::eventually([] { return false; }, 30ms));
}

TEST(TempDir, IsCreatedAndRemoved) {
  std::string path;
  {
    test::TempDir dir;
    path = dir.path();
    EXPECT_EQ(::access(path.c_str(), W_OK), 0);
    auto r = test::run({"sh", "-c", "mkdir -p \"$0/a/b\" && touch \"$0/a/b/f\"", path});
    EXPECT_EQ(r.exit_code(), 0) << r.output;
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

}  // namespace
