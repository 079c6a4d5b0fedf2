// AgentProcess (scheduler/agent_process.hpp): real children, real signals, the loop iterated
// by hand until the child watch reports the exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent_process.hpp"

namespace {

using namespace std::chrono_literals;
using sched::AgentProcess;
using sched::ExitStatus;

struct Child {
  std::vector<std::string> out, err;
  std::vector<bool> cut;
  std::optional<ExitStatus> exit;
  std::unique_ptr<AgentProcess> proc;

  explicit Child(std::vector<std::string> argv, std::string cwd = "") {
    AgentProcess::Callbacks cb;
    cb.on_stdout = [this](std::string_view l, bool c) {
      out.emplace_back(l);
      cut.push_back(c);
    };
    cb.on_stderr = [this](std::string_view l, bool) { err.emplace_back(l); };
    cb.on_exit = [this](ExitStatus s) { exit = s; };
    proc = AgentProcess::spawn(argv, cwd, std::move(cb));
  }
  bool wait(std::chrono::milliseconds limit = 20s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!exit && std::chrono::steady_clock::now() < end) g_main_context_iteration(nullptr, TRUE);
    return exit.has_value();
  }
};

TEST(AgentProcess, LinesFromStdoutAndStderrThenTheExitCode) {
  Child r({"/bin/sh", "-c", "echo one; echo two >&2; printf 'three\\nunfinished'; exit 3"});
  ASSERT_TRUE(r.wait());
  EXPECT_EQ(r.out, (std::vector<std::string>{"one", "three"}));  // the partial line is dropped
  EXPECT_EQ(r.err, (std::vector<std::string>{"two"}));
  EXPECT_EQ(r.exit->code, 3);
  EXPECT_EQ(r.exit->describe(), "exit code 3");
}

TEST(AgentProcess, StdinIsFedAndClosed) {
  Child r({"/bin/cat"});
  r.proc->send("alpha\n");
  r.proc->send("beta\n");
  r.proc->close_stdin();
  ASSERT_TRUE(r.wait());
  EXPECT_EQ(r.out, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_TRUE(r.exit->clean());
}

TEST(AgentProcess, ALargeWriteIsQueuedUntilThePipeTakesIt) {
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + "\n";  // > pipe size
  Child r({"/bin/cat"});
  r.proc->send(big);
  r.proc->close_stdin();
  ASSERT_TRUE(r.wait());
  ASSERT_EQ(r.out.size(), 20000u);
  EXPECT_EQ(r.out.back(), "line 19999");
}

// An agent that answers each line at once, on our CPU: its answers are read again straight
// after the write that caused them (await_answer(); no loop pass each), but other work still
// runs in between, and every line arrives, in order.
// Pins this thread (and the children it spawns) to the CPU it runs on, until destroyed.
class PinnedToOneCpu {
 public:
  PinnedToOneCpu() {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(static_cast<std::size_t>(sched_getcpu()), &one);
    pinned_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0 &&
              sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinnedToOneCpu() {
    if (pinned_) sched_setaffinity(0, sizeof saved_, &saved_);
  }
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t saved_{};
  bool pinned_ = false;
};

TEST(AgentProcess, AnAgentAnsweringAtOnceNeitherLosesLinesNorHoldsTheLoop) {
  PinnedToOneCpu pin;  // the child inherits it
  ASSERT_TRUE(pin.pinned());
  constexpr int kLines = 5000;
  int received = 0, longest_gap = 0, since_timer = 0, timer_runs = 0;
  bool in_order = true;
  std::optional<ExitStatus> exit;
  AgentProcess::Callbacks cb;
  std::unique_ptr<AgentProcess> proc;
  cb.on_stdout = [&](std::string_view line, bool) {
    in_order = in_order && line == std::to_string(received);
    ++received;
    longest_gap = std::max(longest_gap, ++since_timer);
    if (received < kLines) {
      proc->send(std::to_string(received) + "\n");
      proc->await_answer();
    } else {
      proc->close_stdin();
    }
  };
  cb.on_stderr = [](std::string_view, bool) {};
  cb.on_exit = [&](ExitStatus s) { exit = s; };
  proc = AgentProcess::spawn({"/bin/cat"}, "", std::move(cb));
  std::function<void()> tick;
  sched::Source timer;
  tick = [&] {
    ++timer_runs;
    since_timer = 0;
    timer = sched::Source::timer(0ms, tick);  // due at every pass of the loop
  };
  timer = sched::Source::timer(0ms, tick);
  proc->send("0\n");
  auto end = std::chrono::steady_clock::now() + 60s;
  while (!exit && std::chrono::steady_clock::now() < end) g_main_context_iteration(nullptr, TRUE);
  timer.reset();
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->clean());
  EXPECT_EQ(received, kLines);
  EXPECT_TRUE(in_order);
  EXPECT_GT(timer_runs, kLines / 100);
  EXPECT_LE(longest_gap, 40) << "lines handled in one pass of the loop";
}

// What is sent while held goes in one write(2) when the hold ends (dd, already waiting in its
// one read(2), gets all of it), and a close asked for meanwhile waits for it.
TEST(AgentProcess, LinesSentWhileHeldGoInOneWriteThenStdinCloses) {
  Child r({"/bin/sh", "-c", "echo ready; dd bs=65536 count=1 status=none | wc -c; cat >/dev/null"});
  auto end = std::chrono::steady_clock::now() + 20s;
  while (r.out.empty() && std::chrono::steady_clock::now() < end)
    g_main_context_iteration(nullptr, TRUE);
  ASSERT_EQ(r.out, (std::vector<std::string>{"ready"}));
  std::this_thread::sleep_for(200ms);  // dd has started and waits in its read
  {
    AgentProcess::Hold hold(*r.proc);
    for (const char* line : {"a\n", "bb\n", "ccc\n"}) {
      r.proc->send(line);
      std::this_thread::sleep_for(50ms);  // (unheld, dd would have read "a" by now)
    }
    r.proc->close_stdin();
  }
  ASSERT_TRUE(r.wait());
  EXPECT_EQ(r.out, (std::vector<std::string>{"ready", "9"}));
  EXPECT_TRUE(r.exit->clean());
}

TEST(AgentProcess, OverlongLineIsCutNotBuffered) {
  Child r({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo after"});
  ASSERT_TRUE(r.wait());
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_TRUE(r.cut[0]);
  EXPECT_EQ(r.out[0].size(), agent::protocol::max_line_bytes);
  EXPECT_EQ(r.out[1], "after");
}

TEST(AgentProcess, ExecFailureIsAnErrorWithErrno) {
  try {
    Child r({"/nonexistent/agent"});
    FAIL() << "spawn should have thrown";
  } catch (const sched::SpawnError& e) {
    EXPECT_EQ(e.error_number(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/agent"), std::string::npos);
  }
}

TEST(AgentProcess, RunsInItsOwnProcessGroupAndDirectory) {
  Child r({"/bin/sh", "-c", "ps -o pgid= -p $$ | tr -d ' '; echo $$; pwd"}, "/tmp");
  ASSERT_TRUE(r.wait());
  ASSERT_EQ(r.out.size(), 3u);
  EXPECT_EQ(r.out[0], r.out[1]);  // pgid == pid: a group leader
  EXPECT_NE(r.out[0], std::to_string(getpgrp()));
  EXPECT_EQ(r.out[2], "/tmp");
}

// The file actions of a spawn are kept for the descriptors and directory they name and used
// again (agent_process.cpp, file_actions()): children alive at once have different pipes, and
// later ones get the same descriptors back. Waves of children alive at once: 12 in two
// directories; 12 more with the same descriptors, each in the other directory than the one
// before it with them; 40 (more combinations than are kept) with the descriptors shifted by
// one held open between them; 12 as the first. Each must read its own stdin, write its own
// stdout and stderr and run in its own directory.
TEST(AgentProcess, ManyAtOnceAndOneAfterAnotherEachGetsItsOwnPipesAndDirectory) {
  const std::size_t sizes[] = {12, 12, 40, 12};
  for (std::size_t wave = 0; wave < std::size(sizes); ++wave) {
    const std::size_t n = sizes[wave];
    auto in_tmp = [wave](std::size_t i) { return (i + (wave == 1 ? 1 : 0)) % 2 == 0; };
    std::vector<std::unique_ptr<Child>> children;
    std::vector<int> held;
    for (std::size_t i = 0; i < n; ++i) {
      if (wave == 2) held.push_back(dup(STDIN_FILENO));
      children.push_back(std::make_unique<Child>(
          std::vector<std::string>{"/bin/sh", "-c", "read x; echo \"$x $(pwd)\"; echo \"$x\" >&2"},
          in_tmp(i) ? "/tmp" : "/"));
    }
    for (std::size_t i = 0; i < n; ++i) {
      children[i]->proc->send(std::to_string(wave) + "-" + std::to_string(i) + "\n");
      children[i]->proc->close_stdin();
    }
    for (std::size_t i = 0; i < n; ++i) {
      Child& c = *children[i];
      ASSERT_TRUE(c.wait());
      const std::string token = std::to_string(wave) + "-" + std::to_string(i);
      EXPECT_EQ(c.out, std::vector<std::string>{token + (in_tmp(i) ? " /tmp" : " /")});
      EXPECT_EQ(c.err, std::vector<std::string>{token});
      EXPECT_TRUE(c.exit->clean());
    }
    for (int fd : held) close(fd);
  }
}

// The same, one child at a time, with the descriptors its pipes take chosen by holding others:
// the three pipes take the six lowest free ones, b, b+1, ... when nothing is held; the child's
// stdin, stdout and stderr are the 1st, 4th and 6th of them. Holding b+5 moves only stderr
// (to b+6); holding b+3 instead moves only stdout (to b+4; stderr stays at b+6), so each child
// has the descriptors of the one before it but one. The held descriptor is /dev/null: a child given
// the kept actions of the wrong spawn would write there.
TEST(AgentProcess, AChildWhosePipesDifferInOneDescriptorGetsItsOwn) {
  Child warm_up({"/bin/true"});  // the loop's own descriptors, made on first use
  ASSERT_TRUE(warm_up.wait());
  // Every free descriptor below the last 8 of 64 opened is held, so that those 8 are in a row.
  std::vector<int> fillers;
  for (int i = 0; i < 64; ++i) fillers.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::vector<int> probe(fillers.end() - 8, fillers.end());
  fillers.resize(fillers.size() - 8);
  for (std::size_t i = 1; i < probe.size(); ++i)
    ASSERT_EQ(probe[i], probe[0] + static_cast<int>(i)) << "free descriptors not in a row";
  for (int fd : probe) close(fd);
  const int b = probe[0];

  const int holds[] = {-1, b + 5, b + 3};  // none: stdout b+3, stderr b+5; then b+6; then b+4, b+6
  for (int hold : holds) {
    int held = -1;
    if (hold >= 0) {
      const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
      held = dup3(null_fd, hold, O_CLOEXEC);
      close(null_fd);
      ASSERT_EQ(held, hold);
    }
    const std::string token = "hold " + std::to_string(hold);
    Child c({"/bin/sh", "-c", "read x; echo \"$x\"; echo \"$x\" >&2"}, "/tmp");
    c.proc->send(token + "\n");
    c.proc->close_stdin();
    ASSERT_TRUE(c.wait());
    EXPECT_EQ(c.out, std::vector<std::string>{token});
    EXPECT_EQ(c.err, std::vector<std::string>{token});
    if (held >= 0) close(held);
  }
  for (int fd : fillers) close(fd);
}

TEST(AgentProcess, InheritsNoDescriptorButTheThreePipes) {
  Child r({"/bin/sh", "-c", "ls /proc/self/fd"});
  ASSERT_TRUE(r.wait());
  // ls itself opens one directory fd.
  EXPECT_LE(r.out.size(), 4u) << testing::PrintToString(r.out);
  for (const auto& fd : r.out) EXPECT_LE(std::stoi(fd), 3) << fd;
}

TEST(AgentProcess, TerminateEscalatesToSigkillAndTheGroupDies) {
  // The shell ignores TERM; its background child (same group) would outlive it otherwise.
  Child r({"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo $!; while :; do sleep 1; done"});
  while (r.out.empty() && !r.exit) g_main_context_iteration(nullptr, TRUE);
  ASSERT_FALSE(r.out.empty());
  pid_t grandchild = std::stoi(r.out[0]);
  auto start = std::chrono::steady_clock::now();
  r.proc->terminate(300ms);
  ASSERT_TRUE(r.wait());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(r.exit->signal, SIGKILL);
  EXPECT_EQ(r.exit->describe(), "signal 9 (SIGKILL)");
  // The grandchild got SIGKILL with the group: gone, or a zombie until init reaps it.
  auto dead = [](pid_t pid) {
    if (kill(pid, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')');
    return paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z';
  };
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = dead(grandchild);
    if (!gone) usleep(10000);
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived";
}

TEST(AgentProcess, TheExitComesAfterEveryLineTheChildWrote) {
  // The child's last lines and its exit are ready together; the exit is reported only after the
  // pipes are drained, and each time a line arrives the exit has not been reported yet.
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> out;
    bool exited_early = false;
    std::optional<ExitStatus> exit;
    AgentProcess::Callbacks cb;
    cb.on_stdout = [&](std::string_view l, bool) {
      if (exit) exited_early = true;
      out.emplace_back(l);
    };
    cb.on_stderr = [](std::string_view, bool) {};
    cb.on_exit = [&](ExitStatus s) { exit = s; };
    auto proc = AgentProcess::spawn({"/bin/sh", "-c", "seq 1 20000; exit 4"}, "", std::move(cb));
    auto end = std::chrono::steady_clock::now() + 20s;
    while (!exit && std::chrono::steady_clock::now() < end) g_main_context_iteration(nullptr, TRUE);
    ASSERT_TRUE(exit);
    EXPECT_FALSE(exited_early);
    ASSERT_EQ(out.size(), 20000u);
    EXPECT_EQ(out.back(), "20000");
    EXPECT_EQ(exit->code, 4);
  }
}

TEST(AgentProcess, AGrandchildHoldingThePipeDoesNotDelayTheExit) {
  // The leader exits at once; its background child keeps stdout open. The exit is reported
  // without waiting for EOF, with the line written before it, and the group is killed.
  Child r({"/bin/sh", "-c", "sleep 30 & echo $!; exit 0"});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(r.wait(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(r.exit->clean());
  ASSERT_EQ(r.out.size(), 1u);
  pid_t grandchild = std::stoi(r.out[0]);
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')');
    gone =
        !stat || (paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z');
    if (!gone) usleep(10000);
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived";
}

TEST(AgentProcess, AnAgentDestroyedFromItsExitCallbackWhileOthersRun) {
  // Many children at once, each destroyed from its own exit callback (as the scheduler does).
  constexpr int kChildren = 40;
  std::vector<std::unique_ptr<AgentProcess>> procs(kChildren);
  int exits = 0, lines = 0;
  for (int i = 0; i < kChildren; ++i) {
    AgentProcess::Callbacks cb;
    cb.on_stdout = [&](std::string_view, bool) { ++lines; };
    cb.on_stderr = [](std::string_view, bool) {};
    cb.on_exit = [&, i](ExitStatus s) {
      EXPECT_TRUE(s.clean());
      ++exits;
      procs[static_cast<std::size_t>(i)].reset();
    };
    procs[static_cast<std::size_t>(i)] =
        AgentProcess::spawn({"/bin/sh", "-c", "echo a; echo b"}, "", std::move(cb));
  }
  auto end = std::chrono::steady_clock::now() + 20s;
  while (exits < kChildren && std::chrono::steady_clock::now() < end)
    g_main_context_iteration(nullptr, TRUE);
  EXPECT_EQ(exits, kChildren);
  EXPECT_EQ(lines, 2 * kChildren);
  for (const auto& p : procs) EXPECT_EQ(p, nullptr);
}

}  // namespace
