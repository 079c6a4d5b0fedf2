// Source handles, Deadline and Pending (common/event_loop.hpp) and the one GSource beneath
// them (common/loop_source.hpp), driven by iterating the default main context by hand.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "loop_source.hpp"

namespace {

using namespace std::chrono_literals;
using sched::Clock;
using sched::Deadline;
using sched::Pending;
using sched::Source;

// Iterates the loop until `done` or `limit` passes; returns `done`.
bool spin_until(const bool& done, std::chrono::milliseconds limit = 5000ms) {
  auto end = Clock::now() + limit;
  while (!done && Clock::now() < end) g_main_context_iteration(nullptr, FALSE), g_usleep(200);
  return done;
}

TEST(Source, TimerFiresOnceAndEndsItself) {
  int fired = 0;
  bool done = false;
  Source t = Source::timer(5ms, [&] {
    ++fired;
    done = true;
  });
  ASSERT_TRUE(spin_until(done));
  EXPECT_FALSE(t.active());
  for (int i = 0; i < 20; ++i) g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(fired, 1);
}

TEST(Source, ResetBeforeFiringCancels) {
  bool fired = false;
  Source t = Source::timer(1ms, [&] { fired = true; });
  t.reset();
  bool waited = false;
  Source w = Source::timer(20ms, [&] { waited = true; });
  ASSERT_TRUE(spin_until(waited));
  EXPECT_FALSE(fired);
}

TEST(Source, ResettingItselfInsideItsCallbackIsSafe) {
  int calls = 0;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  Source watch;
  watch = Source::watch_fd(fds[0], G_IO_IN, [&](GIOCondition) {
    ++calls;
    watch.reset();  // drops the closure that is running
    return true;
  });
  for (int i = 0; i < 20; ++i) g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(watch.active());
  close(fds[0]);
  close(fds[1]);
}

TEST(Source, MovedHandleStillOwnsTheSource) {
  bool fired = false;
  Source a = Source::timer(1ms, [&] { fired = true; });
  Source b = std::move(a);
  EXPECT_FALSE(a.active());
  EXPECT_TRUE(b.active());
  b.reset();
  bool waited = false;
  Source w = Source::timer(20ms, [&] { waited = true; });
  ASSERT_TRUE(spin_until(waited));
  EXPECT_FALSE(fired);
}

TEST(Deadline, MovingItLaterDelaysTheCallback) {
  bool fired = false;
  Deadline d([&] { fired = true; });
  auto start = Clock::now();
  d.arm(start + 10ms);
  d.arm(start + 80ms);  // no new GLib timer; the first one re-schedules itself
  ASSERT_TRUE(spin_until(fired));
  EXPECT_GE(Clock::now() - start, 80ms);
  EXPECT_FALSE(d.armed());
}

TEST(Deadline, MovingItEarlierFiresEarlier) {
  bool fired = false;
  Deadline d([&] { fired = true; });
  auto start = Clock::now();
  d.arm(start + 10s);
  d.arm(start + 10ms);
  ASSERT_TRUE(spin_until(fired, 3000ms));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(Deadline, DisarmedNeverFires) {
  bool fired = false;
  Deadline d([&] { fired = true; });
  d.arm(Clock::now() + 5ms);
  d.disarm();
  bool waited = false;
  Source w = Source::timer(30ms, [&] { waited = true; });
  ASSERT_TRUE(spin_until(waited));
  EXPECT_FALSE(fired);
}

// A pipe whose ends close with it.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  void put() { EXPECT_EQ(write(w, "x", 1), 1); }
};

void iterate(int n = 20) {
  for (int i = 0; i < n; ++i) g_main_context_iteration(nullptr, FALSE);
}

TEST(Source, AWatchWhoseCallbackDestroysItsOwnerIsNotCalledAgain) {
  struct Owner {
    Source watch;
    int calls = 0;
  };
  Pipe p;
  p.put();
  auto owner = std::make_unique<Owner>();
  int calls = 0;
  owner->watch = Source::watch_fd(p.r, G_IO_IN, [&](GIOCondition) {
    ++calls;
    owner.reset();  // destroys the Source whose closure is running
    return true;
  });
  iterate();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(owner, nullptr);
}

TEST(Source, AWatchRemovedByAnotherInTheSamePassIsNotCalled) {
  // Both fds are ready in one pass; whichever runs first removes the other and reuses its fd
  // number for a new, empty pipe: the stale event must reach neither the old nor the new watch.
  Pipe a, b;
  a.put();
  b.put();
  std::array<Source, 2> watches;
  std::array<int, 2> calls{};
  std::optional<Pipe> fresh;
  Source fresh_watch;
  int fresh_calls = 0;
  std::array<int*, 2> fds{&a.r, &b.r};
  for (int i = 0; i < 2; ++i) {
    watches[static_cast<std::size_t>(i)] =
        Source::watch_fd(*fds[static_cast<std::size_t>(i)], G_IO_IN, [&, i](GIOCondition) {
          auto me = static_cast<std::size_t>(i), other = 1 - me;
          ++calls[me];
          if (watches[other].active()) {
            watches[other].reset();
            close(*fds[other]);
            int old = *fds[other];
            fresh.emplace();  // lowest free number: the one just closed
            EXPECT_EQ(fresh->r, old);
            *fds[other] = -1;
            fresh_watch = Source::watch_fd(fresh->r, G_IO_IN, [&](GIOCondition) {
              ++fresh_calls;
              char c;
              EXPECT_EQ(read(fresh->r, &c, 1), 1);
              return true;
            });
          }
          char c;
          EXPECT_EQ(read(*fds[me], &c, 1), 1);
          return true;
        });
  }
  iterate();
  EXPECT_EQ(calls[0] + calls[1], 1);
  EXPECT_EQ(fresh_calls, 0);
  fresh->put();  // the new watch works
  iterate();
  EXPECT_EQ(fresh_calls, 1);
}

TEST(Source, TwoWatchesOnOneFdEachGetWhatTheyAskedFor) {
  Pipe p;
  int reads = 0, writes = 0;
  Source in = Source::watch_fd(p.r, G_IO_IN, [&](GIOCondition c) {
    EXPECT_TRUE(c & G_IO_IN);
    ++reads;
    char ch;
    EXPECT_EQ(read(p.r, &ch, 1), 1);
    return true;
  });
  Source out = Source::watch_fd(p.w, G_IO_OUT, [&](GIOCondition) {
    ++writes;
    return false;  // ends itself
  });
  // A second watch on the write end, made before the first is gone (as `a = watch_fd(...)`).
  Source out2 = Source::watch_fd(p.w, G_IO_OUT, [&](GIOCondition) {
    p.put();
    return false;
  });
  iterate();
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(reads, 1);
  EXPECT_FALSE(out.active());
  EXPECT_FALSE(out2.active());
  EXPECT_TRUE(in.active());
}

TEST(Source, HangUpIsReportedToAReadWatch) {
  Pipe p;
  close(p.w);
  p.w = -1;
  GIOCondition got{};
  Source s = Source::watch_fd(p.r, G_IO_IN, [&](GIOCondition c) {
    got = c;
    return false;
  });
  iterate();
  EXPECT_TRUE(got & G_IO_HUP);
  EXPECT_FALSE(s.active());
}

TEST(Source, ChildExitIsReportedOnceWithItsStatus) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(7);
  std::optional<int> status;
  Source c = Source::child(pid, [&](int s) { status = s; });
  auto end = Clock::now() + 5s;
  while (!status && Clock::now() < end) g_main_context_iteration(nullptr, TRUE);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 7);
  EXPECT_FALSE(c.active());
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);  // reaped
}

TEST(Source, ChildKilledBySignalReportsTheSignal) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  std::optional<int> status;
  Source c = Source::child(pid, [&](int s) { status = s; });
  iterate(5);
  EXPECT_FALSE(status);  // still running
  kill(pid, SIGKILL);
  auto end = Clock::now() + 5s;
  while (!status && Clock::now() < end) g_main_context_iteration(nullptr, TRUE);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST(Source, TimersDueTogetherFireInTheOrderMade) {
  std::vector<int> order;
  std::vector<Source> timers;
  for (int i = 0; i < 50; ++i) timers.push_back(Source::timer(0ms, [&, i] { order.push_back(i); }));
  bool done = false;
  Source last = Source::timer(5ms, [&] { done = true; });
  ASSERT_TRUE(spin_until(done));
  ASSERT_EQ(order.size(), 50u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(Deadline, ManyFireInDeadlineOrder) {
  std::mt19937 random(18);
  std::uniform_int_distribution<int> ms(1, 60);
  auto start = Clock::now();
  std::vector<Clock::time_point> fired;
  std::vector<std::unique_ptr<Deadline>> deadlines;
  std::vector<Clock::time_point> when;
  for (int i = 0; i < 300; ++i) {
    when.push_back(start + std::chrono::milliseconds(ms(random)));
    auto i_ = static_cast<std::size_t>(i);
    deadlines.push_back(std::make_unique<Deadline>([&, i_] {
      fired.push_back(when[i_]);
      EXPECT_GE(Clock::now(), when[i_]);
    }));
  }
  for (std::size_t i = 0; i < deadlines.size(); ++i) {
    deadlines[i]->arm(when[i] + 1s);  // armed late, then moved earlier: the heap moves it
    deadlines[i]->arm(when[i]);
  }
  // Every third one disarmed, every fifth destroyed: neither fires.
  std::size_t expected = 0;
  for (std::size_t i = 0; i < deadlines.size(); ++i) {
    if (i % 3 == 0)
      deadlines[i]->disarm();
    else if (i % 5 == 0)
      deadlines[i].reset();
    else
      ++expected;
  }
  bool done = false;
  Source after = Source::timer(120ms, [&] { done = true; });
  ASSERT_TRUE(spin_until(done));
  EXPECT_EQ(fired.size(), expected);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_EQ(sched::loop::LoopSource::get().timer_count(), 0u);
}

TEST(Deadline, ItsCallbackMayDestroyIt) {
  auto d = std::make_unique<Deadline>([] {});
  bool fired = false;
  d = std::make_unique<Deadline>([&] {
    fired = true;
    d.reset();
  });
  d->arm(Clock::now() + 1ms);
  ASSERT_TRUE(spin_until(fired));
  EXPECT_EQ(d, nullptr);
}

TEST(Pending, ManyRequestsRunTheWorkOncePerPass) {
  int runs = 0;
  Pending p([&] { ++runs; });
  for (int i = 0; i < 100; ++i) p.request();
  EXPECT_TRUE(p.requested());
  g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(p.requested());
  iterate();
  EXPECT_EQ(runs, 1);
}

TEST(Pending, ARequestFromItsOwnWorkRunsInTheNextPass) {
  int runs = 0;
  Pending* self = nullptr;
  Pending p([&] {
    if (++runs < 3) self->request();
  });
  self = &p;
  p.request();
  g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(runs, 1);
  g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(runs, 2);
  iterate();
  EXPECT_EQ(runs, 3);
}

TEST(Pending, WorkRequestedByAnEventRunsAfterAllOfThatPassesEvents) {
  // Three ready fds whose callbacks each request the work: it runs once, after all three.
  std::array<Pipe, 3> pipes;
  std::vector<std::string> seen;
  Pending work([&] { seen.push_back("work"); });
  std::vector<Source> watches;
  for (auto& p : pipes) {
    p.put();
    watches.push_back(Source::watch_fd(p.r, G_IO_IN, [&, fd = p.r](GIOCondition) {
      char c;
      EXPECT_EQ(read(fd, &c, 1), 1);
      seen.push_back("fd");
      work.request();
      return true;
    }));
  }
  g_main_context_iteration(nullptr, FALSE);
  EXPECT_EQ(seen, (std::vector<std::string>{"fd", "fd", "fd", "work"}));
}

TEST(Pending, CancelledOrDestroyedItNeverRuns) {
  int runs = 0;
  Pending a([&] { ++runs; });
  a.request();
  a.cancel();
  {
    Pending b([&] { ++runs; });
    b.request();
  }
  iterate();
  EXPECT_EQ(runs, 0);
  a.request();  // usable again after a cancel
  iterate();
  EXPECT_EQ(runs, 1);
}

// GLib blocks a source while it dispatches by taking its fds out of the poll set and back,
// writing to GLib's wake-up eventfd each time, so that the next iteration woke at once for
// nothing (two writes, a read and a poll more per event). The loop's source is not blocked:
// after an event, the next iteration sleeps until there is work (here a timer).
TEST(LoopSource, ADispatchDoesNotWakeTheNextIterationForNothing) {
  Pipe p;
  int seen = 0;
  Source watch = Source::watch_fd(p.r, G_IO_IN, [&](GIOCondition) {
    char c;
    EXPECT_EQ(read(p.r, &c, 1), 1);
    ++seen;
    return true;
  });
  p.put();
  while (seen == 0) g_main_context_iteration(nullptr, TRUE);
  bool fired = false;
  Source timer = Source::timer(20ms, [&] { fired = true; });
  EXPECT_TRUE(g_main_context_iteration(nullptr, TRUE));  // one iteration: it waits for the timer
  EXPECT_TRUE(fired);
  EXPECT_EQ(seen, 1);
}

// A loop iterated from inside a callback (nested) does not dispatch the loop's source again:
// the outer dispatch goes on with the events it has.
TEST(LoopSource, ANestedIterationDoesNotDispatchAgain) {
  Pipe a, b;
  std::vector<char> order;
  Source wa = Source::watch_fd(a.r, G_IO_IN, [&](GIOCondition) {
    char c;
    EXPECT_EQ(read(a.r, &c, 1), 1);
    order.push_back('a');
    b.put();
    g_main_context_iteration(nullptr, FALSE);  // nested: b's event waits for the outer loop
    order.push_back('A');
    return true;
  });
  Source wb = Source::watch_fd(b.r, G_IO_IN, [&](GIOCondition) {
    char c;
    EXPECT_EQ(read(b.r, &c, 1), 1);
    order.push_back('b');
    return true;
  });
  a.put();
  while (order.size() < 3) g_main_context_iteration(nullptr, TRUE);
  EXPECT_EQ(std::string(order.begin(), order.end()), "aAb");
}

// The wait is the loop's own epoll_wait when GLib has nothing else to poll; GLib's sources
// still wake it: a timeout of GLib's (its time goes to the wait), a unix signal (GLib's worker
// thread wakes the context through its eventfd, which is in the epoll set), a GLib fd watch
// (then GLib polls as usual).
TEST(LoopSource, GLibsOwnSourcesStillWakeTheLoop) {
  bool expired = false;
  Source guard = Source::timer(10s, [&] { expired = true; });
  bool timed_out = false;
  guint timeout_id = g_timeout_add(
      30,
      [](gpointer flag) -> gboolean {
        *static_cast<bool*>(flag) = true;
        return G_SOURCE_REMOVE;
      },
      &timed_out);
  while (!timed_out && !expired) g_main_context_iteration(nullptr, TRUE);
  EXPECT_TRUE(timed_out);
  if (!timed_out) g_source_remove(timeout_id);

  bool signalled = false;
  Source usr1 = Source::unix_signal(SIGUSR1, [&] { signalled = true; });
  std::thread sender([] {
    g_usleep(30000);
    kill(getpid(), SIGUSR1);
  });
  while (!signalled && !expired) g_main_context_iteration(nullptr, TRUE);
  sender.join();
  EXPECT_TRUE(signalled);

  Pipe p;
  bool readable = false;
  GIOChannel* channel = g_io_channel_unix_new(p.r);
  guint watch_id = g_io_add_watch(
      channel, G_IO_IN,
      [](GIOChannel*, GIOCondition, gpointer flag) -> gboolean {
        *static_cast<bool*>(flag) = true;
        return G_SOURCE_REMOVE;
      },
      &readable);
  g_io_channel_unref(channel);
  std::thread writer([&] {
    g_usleep(30000);
    p.put();
  });
  while (!readable && !expired) g_main_context_iteration(nullptr, TRUE);
  writer.join();
  EXPECT_TRUE(readable);
  if (!readable) g_source_remove(watch_id);
  EXPECT_FALSE(expired);
}

TEST(LoopSource, GLibPollsTheSameFdsWithFiveHundredWatchesAsWithNone) {
  auto polled = [] {
    GMainContext* ctx = g_main_context_default();
    EXPECT_TRUE(g_main_context_acquire(ctx));
    gint priority = 0, timeout = 0;
    g_main_context_prepare(ctx, &priority);
    std::array<GPollFD, 64> fds{};
    gint n = g_main_context_query(ctx, priority, &timeout, fds.data(), fds.size());
    g_main_context_check(ctx, priority, fds.data(), std::min<gint>(n, fds.size()));
    g_main_context_release(ctx);
    return n;
  };
  Source first = Source::timer(1h, [] {});  // the LoopSource exists from here
  int before = polled();
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<Source> watches;
  std::vector<std::unique_ptr<Deadline>> deadlines;
  for (int i = 0; i < 500; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    watches.push_back(
        Source::watch_fd(pipes.back()->r, G_IO_IN, [](GIOCondition) { return true; }));
    deadlines.push_back(std::make_unique<Deadline>([] {}));
    deadlines.back()->arm(Clock::now() + 1h);
  }
  EXPECT_EQ(sched::loop::LoopSource::get().watch_count(), 500u);
  EXPECT_EQ(polled(), before);
  watches.clear();
  deadlines.clear();
  EXPECT_EQ(sched::loop::LoopSource::get().watch_count(), 0u);
}

}  // namespace
