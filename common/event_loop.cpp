// Source, Deadline and Pending on the loop's one GSource (loop_source.hpp). A Source's State is
// shared with whoever may still call it (the LoopSource's copy while a callback runs, GLib's
// reference for its own sources), so removal from inside a callback is safe.
#include "event_loop.hpp"

#include <glib-unix.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "loop_source.hpp"

namespace sched {

using loop::LoopSource;

// Exactly one of: an fd watch (watch_fd, child) or a timer on the LoopSource, or a GLib source
// (unix_signal, and what epoll or pidfds cannot take).
struct Source::State {
  std::shared_ptr<loop::FdWatch> watch;
  std::shared_ptr<loop::Timer> timer;
  guint glib_id = 0;
  bool glib_ended = false;  // the GLib source ended by itself
  std::function<bool(GIOCondition)> on_fd;
  std::function<void(int)> on_child;
  std::function<void()> on_signal;

  bool active() const {
    if (watch) return watch->live;
    if (timer) return timer->queued();
    return glib_id != 0 && !glib_ended;
  }
};

namespace {

using State = Source::State;

// GLib owns one reference to the State (a heap shared_ptr) until its source is destroyed.
gpointer hold(const std::shared_ptr<State>& s) {
  return new std::shared_ptr<State>(s);
}
void release(gpointer data) {
  delete static_cast<std::shared_ptr<State>*>(data);
}
std::shared_ptr<State> get(gpointer data) {  // a copy: the callback may reset its handle
  return *static_cast<std::shared_ptr<State>*>(data);
}

gboolean on_glib_fd(gint /*fd*/, GIOCondition condition, gpointer data) {
  auto s = get(data);
  bool again = s->on_fd(condition);
  if (!again) s->glib_ended = true;
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void on_glib_child(GPid /*pid*/, gint status, gpointer data) {
  auto s = get(data);
  s->glib_ended = true;
  s->on_child(status);
}

gboolean on_glib_signal(gpointer data) {
  get(data)->on_signal();
  return G_SOURCE_CONTINUE;
}

// The wait status waitpid would have given for what waitid reported.
int wait_status(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
    default:  // CLD_KILLED
      return info.si_status & 0x7f;
  }
}

}  // namespace

Source::Source(Source&& other) noexcept : state_(std::move(other.state_)) {}

Source& Source::operator=(Source&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
  }
  return *this;
}

bool Source::active() const {
  return state_ && state_->active();
}

void Source::reset() {
  auto s = std::move(state_);
  if (!s) return;
  if (s->watch) {
    LoopSource::get().remove(s->watch);
  } else if (s->timer) {
    LoopSource::get().cancel(s->timer);
  } else if (s->glib_id != 0 && !s->glib_ended) {
    s->glib_ended = true;
    g_source_remove(s->glib_id);
  }
}

Source Source::watch_fd(int fd, GIOCondition condition, std::function<bool(GIOCondition)> fn) {
  auto s = std::make_shared<State>();
  auto w = std::make_shared<loop::FdWatch>();
  w->fd = fd;
  w->condition = condition;
  w->fn = std::move(fn);
  if (LoopSource::get().add(w)) {
    s->watch = std::move(w);
    return Source(std::move(s));
  }
  // epoll refuses regular files (they are always ready): GLib polls them.
  s->on_fd = std::move(w->fn);
  s->glib_id = g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, condition, on_glib_fd, hold(s), release);
  return Source(std::move(s));
}

Source Source::timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto s = std::make_shared<State>();
  s->timer = std::make_shared<loop::Timer>();
  s->timer->fn = std::move(fn);
  LoopSource::get().schedule(s->timer,
                             Clock::now() + std::max(delay, std::chrono::milliseconds(0)));
  return Source(std::move(s));
}

// A pidfd becomes readable when the child exits; waitid(P_PIDFD) reaps exactly that child, and
// nothing else in the process is woken for it (GLib's child watches call waitpid for every
// watched child on each SIGCHLD).
Source Source::child(pid_t pid, std::function<void(int)> fn) {
  auto s = std::make_shared<State>();
  auto report = std::make_shared<std::function<void(int)>>(std::move(fn));
  // (glibc 2.36's <sys/pidfd.h> lacks extern "C": the system call directly.)
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // close-on-exec
  if (pidfd >= 0) {
    auto w = std::make_shared<loop::FdWatch>();
    w->fd = pidfd;
    w->condition = G_IO_IN;
    w->owns_fd = true;
    w->fn = [pidfd, report](GIOCondition) {
      siginfo_t info{};
      int rc;
      do {
        rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                    WEXITED | WNOHANG);
      } while (rc < 0 && errno == EINTR);
      if (rc == 0 && info.si_pid == 0) return true;  // not yet
      // rc < 0: reaped by someone else (ECHILD); reported as exit code 255.
      (*report)(rc == 0 ? wait_status(info) : 0xff00);
      return false;
    };
    if (LoopSource::get().add(w)) {
      s->watch = std::move(w);
      return Source(std::move(s));
    }
    close(pidfd);  // (epoll takes pidfds; kept for completeness)
  }
  s->on_child = [report](int status) { (*report)(status); };
  s->glib_id = g_child_watch_add_full(G_PRIORITY_DEFAULT, pid, on_glib_child, hold(s), release);
  return Source(std::move(s));
}

Source Source::unix_signal(int signum, std::function<void()> fn) {
  auto s = std::make_shared<State>();
  s->on_signal = std::move(fn);
  s->glib_id = g_unix_signal_add_full(G_PRIORITY_HIGH, signum, on_glib_signal, hold(s), release);
  return Source(std::move(s));
}

// ---- Deadline ------------------------------------------------------------------------------

Deadline::Deadline(std::function<void()> fn)
    : fn_(std::move(fn)), timer_(std::make_shared<loop::Timer>()) {
  timer_->fn = [this] { fire(); };
}

Deadline::~Deadline() {
  if (timer_->queued()) LoopSource::get().cancel(timer_);
}

void Deadline::arm(Clock::time_point when) {
  when_ = when;
  armed_ = true;
  // A queued entry due no later than `when` moves itself when it comes due.
  if (!timer_->queued() || timer_->when > when) LoopSource::get().schedule(timer_, when);
}

void Deadline::disarm() {
  armed_ = false;
  if (timer_->queued()) LoopSource::get().cancel(timer_);
}

void Deadline::fire() {
  if (!armed_) return;
  if (Clock::now() < when_) {
    LoopSource::get().schedule(timer_, when_);  // moved later meanwhile
    return;
  }
  armed_ = false;
  auto fn = fn_;  // a copy: fn may destroy *this
  fn();
}

// ---- Pending -------------------------------------------------------------------------------

Pending::Pending(std::function<void()> fn) : task_(std::make_shared<loop::Task>()) {
  task_->fn = std::move(fn);
}

Pending::~Pending() {
  LoopSource::cancel(*task_);
}

void Pending::request() {
  LoopSource::get().request(task_);
}

void Pending::cancel() {
  LoopSource::cancel(*task_);
}

bool Pending::requested() const {
  return task_->requested;
}

}  // namespace sched
