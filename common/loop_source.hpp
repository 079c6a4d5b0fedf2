// LoopSource: the one GSource that carries the loop's fd watches (an epoll set), its timers (a
// min-heap) and its pending work (flags), on the default main context; Source, Deadline and
// Pending (event_loop.hpp) are built on it and nothing else uses it. Invariant: a wake costs the
// same however many watches and timers exist — GLib polls one fd (the epoll fd) and asks one
// prepare/check; a dispatch reads only the ready fds and the due timers. GLib's poll function
// is replaced so that, when the context has nothing else to poll, the wait itself is the
// epoll_wait (GLib's wake-up eventfd is in the epoll set too): one system call per wake-up,
// not a poll() and then an epoll_wait().
#pragma once

#include <glib.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace sched::loop {

using Clock = std::chrono::steady_clock;

// One fd watch, registered while `live`. Several may share an fd: the epoll mask is the union
// of their conditions, and each is called with the part of an event it asked for (errors and
// hang-ups always). `fn` returning false ends the watch.
struct FdWatch {
  int fd = -1;
  GIOCondition condition{};
  std::function<bool(GIOCondition)> fn;
  bool live = false;
  bool owns_fd = false;  // closed when the watch ends (a pidfd)
};

// One timer, in the heap while queued(). Equal times fire in the order they were scheduled.
struct Timer {
  static constexpr std::size_t kNotQueued = SIZE_MAX;
  Clock::time_point when{};
  std::uint64_t seq = 0;
  std::size_t index = kNotQueued;
  std::function<void()> fn;
  bool queued() const { return index != kNotQueued; }
};

// One piece of pending work: `fn` runs once in the loop's next dispatch after request(),
// however many requests came before it.
struct Task {
  std::function<void()> fn;
  bool requested = false;
  bool listed = false;  // in the pending list (possibly cancelled meanwhile)
};

class LoopSource {
 public:
  // The instance on the default main context, attached at first use and kept for the life of
  // the process.
  static LoopSource& get();

  // Registers a watch. False when epoll refuses the fd (a regular file, EPERM): the caller
  // watches it another way. Every callback may add or remove any watch, timer or task,
  // including the one running and its owner.
  bool add(const std::shared_ptr<FdWatch>& w);
  void remove(const std::shared_ptr<FdWatch>& w);  // idempotent; closes an owned fd
  // Queues the timer at `when`, or moves it there if it is queued.
  void schedule(const std::shared_ptr<Timer>& t, Clock::time_point when);
  void cancel(const std::shared_ptr<Timer>& t);  // idempotent
  void request(const std::shared_ptr<Task>& t);
  static void cancel(Task& t) { t.requested = false; }

  // For tests: what is registered now.
  std::size_t watch_count() const { return watch_count_; }
  std::size_t timer_count() const { return heap_.size(); }

  LoopSource(const LoopSource&) = delete;
  LoopSource& operator=(const LoopSource&) = delete;

 private:
  struct FdEntry {
    std::vector<std::shared_ptr<FdWatch>> watches;
    std::uint32_t mask = 0;  // what epoll has for the fd (0: not registered)
    std::uint32_t gen = 0;   // bumped at each registration; stale events are skipped
  };
  struct Funcs;  // the GSourceFuncs (loop_source.cpp)

  LoopSource();
  bool update(int fd);  // brings epoll's mask for `fd` in line with its live watches
  int timeout_ms(Clock::time_point now) const;
  bool ready(Clock::time_point now) const;
  void dispatch();
  void run_fd_event(const epoll_event& ev);
  void run_timers(Clock::time_point now);
  void run_tasks();
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void heap_remove(std::size_t i);
  void place(std::size_t i, std::shared_ptr<Timer> t);

  static gint poll(GPollFD* fds, guint nfds, gint timeout);  // the context's poll function
  bool watch_wakeup(int fd);  // puts GLib's wake-up fd in the epoll set (once)

  GSource* source_ = nullptr;
  bool dispatching_ = false;  // a nested loop iteration leaves the source alone
  int wakeup_fd_ = -1;        // GLib's wake-up fd, in the epoll set
  int prefetched_ = -1;       // events_ holds this many events the poll function read
  int epfd_ = -1;
  std::vector<FdEntry> fds_;  // by fd number
  std::size_t watch_count_ = 0;
  std::vector<std::shared_ptr<Timer>> heap_;
  std::uint64_t next_seq_ = 0;
  std::vector<std::shared_ptr<Task>> tasks_;
  std::vector<epoll_event> events_;
};

}  // namespace sched::loop
