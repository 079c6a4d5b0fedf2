// RAII handles for the main-loop events the programs use: fd watches, one-shot timers, child
// exits, Unix signals, deadlines and pending work. Every handle belongs to the default main
// context, which one thread (main's) runs; a handle removes its event when destroyed, so a
// callback never outlives the object that registered it. Fd watches, child exits (a pidfd),
// timers and pending work all go through one GSource (loop_source.hpp), so the cost of a wake
// does not grow with the number of agents; signals are GLib's own sources.
#pragma once

#include <glib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>

namespace sched {

namespace loop {
struct Task;
struct Timer;
}  // namespace loop

class Source {
 public:
  Source() = default;
  Source(Source&& other) noexcept;
  Source& operator=(Source&& other) noexcept;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() { reset(); }

  // Removes the source (no further callbacks). Safe to call from inside its own callback.
  void reset();
  bool active() const;

  // Calls `fn(condition)` while `fn` returns true; the source ends when it returns false.
  // Level-triggered: called again while the condition holds. G_IO_HUP and G_IO_ERR are always
  // reported. Several watches may share an fd.
  static Source watch_fd(int fd, GIOCondition condition, std::function<bool(GIOCondition)> fn);
  // Calls `fn` once after `delay`; timers due at the same time fire in the order created.
  static Source timer(std::chrono::milliseconds delay, std::function<void()> fn);
  // Calls `fn(wait_status)` once when the child `pid` exits, and reaps it (a pidfd watched with
  // the fds; GLib's child watch where pidfds are missing). Only one watch per child.
  static Source child(pid_t pid, std::function<void(int)> fn);
  // Calls `fn` on each delivery of `signum` (SIGHUP, SIGINT, SIGTERM, SIGUSR1/2, SIGWINCH).
  static Source unix_signal(int signum, std::function<void()> fn);

  struct State;  // what the handle owns (defined in event_loop.cpp)

 private:
  explicit Source(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

using Clock = std::chrono::steady_clock;

// Work to do soon, once: request() marks it pending and the loop runs `fn` once in its next
// pass, after that pass's events, however many requests came before. A request made while `fn`
// runs makes it run again in the following pass. Nothing is attached to GLib per request: one
// GSource checks the pending list in prepare/check. Destroying it drops a pending run.
class Pending {
 public:
  explicit Pending(std::function<void()> fn);
  ~Pending();
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

  void request();
  void cancel();
  bool requested() const;

 private:
  std::shared_ptr<loop::Task> task_;
};

// A deadline that fires `fn` when it passes, on the loop's one timer heap (no GLib source of
// its own). Re-arming to a later time only records it: the queued entry, when it comes due,
// moves itself (cheap for heartbeat refreshes on every line); an earlier time moves the entry
// at once. `fn` may destroy the Deadline.
class Deadline {
 public:
  explicit Deadline(std::function<void()> fn);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(Clock::time_point when);
  void disarm();
  bool armed() const { return armed_; }
  Clock::time_point when() const { return when_; }

 private:
  void fire();
  std::function<void()> fn_;
  Clock::time_point when_{};
  bool armed_ = false;
  std::shared_ptr<loop::Timer> timer_;  // its entry in the heap
};

}  // namespace sched
