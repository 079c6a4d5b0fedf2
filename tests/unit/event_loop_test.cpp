// Source handles and Deadline (common/event_loop.hpp), driven by iterating the default
// main context by hand.
#include <gtest/gtest.h>

#include <chrono>

#include "event_loop.hpp"

namespace {

using namespace std::chrono_literals;
using sched::Clock;
using sched::Deadline;
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

}  // namespace
