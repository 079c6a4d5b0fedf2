// RAII handles for the GLib main-loop sources the scheduler uses: fd watches, one-shot and
// repeating timers, child watches and Unix signals. Every source belongs to the default main
// context, which one thread (main's) runs; a handle removes its source when destroyed, so a
// callback never outlives the object that registered it.
#pragma once

#include <glib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>

namespace sched {

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
  bool active() const { return id_ != 0; }

  // Calls `fn(condition)` while `fn` returns true; the source ends when it returns false.
  static Source watch_fd(int fd, GIOCondition condition, std::function<bool(GIOCondition)> fn);
  // Calls `fn` once after `delay`.
  static Source timer(std::chrono::milliseconds delay, std::function<void()> fn);
  // Calls `fn(wait_status)` once when `pid` exits; GLib reaps the child.
  static Source child(pid_t pid, std::function<void(int)> fn);
  // Calls `fn` on each delivery of `signum` (SIGHUP, SIGINT, SIGTERM, SIGUSR1/2, SIGWINCH).
  static Source unix_signal(int signum, std::function<void()> fn);

  struct Callback;  // the closure GLib calls (defined in event_loop.cpp)

 private:
  explicit Source(guint id, std::shared_ptr<Callback> cb) : id_(id), cb_(std::move(cb)) {}
  static Source adopt(guint id, std::shared_ptr<Callback> cb);
  guint id_ = 0;
  std::shared_ptr<Callback> cb_;  // keeps the closure alive while GLib may call it
};

using Clock = std::chrono::steady_clock;

// A deadline with one timer that fires `fn` when it passes. Re-arming to a later time does
// not touch GLib until the earlier timer fires (cheap for heartbeat refreshes on every line).
class Deadline {
 public:
  explicit Deadline(std::function<void()> fn) : fn_(std::move(fn)) {}
  void arm(Clock::time_point when);
  void disarm();
  bool armed() const { return armed_; }
  Clock::time_point when() const { return when_; }

 private:
  void schedule();
  std::function<void()> fn_;
  Clock::time_point when_{};
  bool armed_ = false;
  Source timer_;
  Clock::time_point timer_at_{};
};

}  // namespace sched
