// GLib source handles: each keeps its closure in a shared Callback that GLib holds a reference
// to until the source is destroyed, so removal from inside a callback is safe.
#include "event_loop.hpp"

#include <glib-unix.h>

#include <utility>

namespace sched {

struct Source::Callback {
  std::function<bool(GIOCondition)> on_fd;
  std::function<void()> on_timer;
  std::function<void(int)> on_child;
  std::function<void()> on_signal;
  guint* owner_id = nullptr;  // cleared when the source ends by itself
};

namespace {

// GLib owns one reference to the Callback (a heap shared_ptr) until the source is destroyed.
gpointer hold(const std::shared_ptr<Source::Callback>& cb) {
  return new std::shared_ptr<Source::Callback>(cb);
}
void release(gpointer data) {
  delete static_cast<std::shared_ptr<Source::Callback>*>(data);
}
Source::Callback& get(gpointer data) {
  return **static_cast<std::shared_ptr<Source::Callback>*>(data);
}

void forget_id(Source::Callback& cb) {
  if (cb.owner_id) *cb.owner_id = 0;
  cb.owner_id = nullptr;
}

gboolean on_fd(gint /*fd*/, GIOCondition condition, gpointer data) {
  auto& cb = get(data);
  // Copy: the callback may reset the Source and thereby drop the std::function it runs in.
  auto keep = *static_cast<std::shared_ptr<Source::Callback>*>(data);
  bool again = cb.on_fd(condition);
  if (!again) forget_id(cb);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

gboolean on_timer(gpointer data) {
  auto keep = *static_cast<std::shared_ptr<Source::Callback>*>(data);
  forget_id(*keep);
  keep->on_timer();
  return G_SOURCE_REMOVE;
}

void on_child(GPid /*pid*/, gint status, gpointer data) {
  auto keep = *static_cast<std::shared_ptr<Source::Callback>*>(data);
  forget_id(*keep);
  keep->on_child(status);
}

gboolean on_signal(gpointer data) {
  auto keep = *static_cast<std::shared_ptr<Source::Callback>*>(data);
  keep->on_signal();
  return G_SOURCE_CONTINUE;
}

}  // namespace

Source::Source(Source&& other) noexcept
    : id_(std::exchange(other.id_, 0)), cb_(std::move(other.cb_)) {
  if (cb_ && id_ != 0) cb_->owner_id = &id_;
}

Source& Source::operator=(Source&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, 0);
    cb_ = std::move(other.cb_);
    if (cb_ && id_ != 0) cb_->owner_id = &id_;
  }
  return *this;
}

void Source::reset() {
  if (cb_) cb_->owner_id = nullptr;
  if (id_ != 0) g_source_remove(id_);
  id_ = 0;
  cb_.reset();
}

// A handle for a source GLib just created; the Callback learns where its id lives.
Source Source::adopt(guint id, std::shared_ptr<Callback> cb) {
  Source s(id, cb);
  cb->owner_id = &s.id_;
  return s;
}

Source Source::watch_fd(int fd, GIOCondition condition, std::function<bool(GIOCondition)> fn) {
  auto cb = std::make_shared<Callback>();
  cb->on_fd = std::move(fn);
  guint id = g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, condition, on_fd, hold(cb), release);
  return adopt(id, std::move(cb));
}

Source Source::timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto cb = std::make_shared<Callback>();
  cb->on_timer = std::move(fn);
  auto ms = static_cast<guint>(delay.count() < 0 ? 0 : delay.count());
  guint id = g_timeout_add_full(G_PRIORITY_DEFAULT, ms, on_timer, hold(cb), release);
  return adopt(id, std::move(cb));
}

Source Source::child(pid_t pid, std::function<void(int)> fn) {
  auto cb = std::make_shared<Callback>();
  cb->on_child = std::move(fn);
  guint id = g_child_watch_add_full(G_PRIORITY_DEFAULT, pid, on_child, hold(cb), release);
  return adopt(id, std::move(cb));
}

Source Source::unix_signal(int signum, std::function<void()> fn) {
  auto cb = std::make_shared<Callback>();
  cb->on_signal = std::move(fn);
  guint id = g_unix_signal_add_full(G_PRIORITY_HIGH, signum, on_signal, hold(cb), release);
  return adopt(id, std::move(cb));
}

void Deadline::arm(Clock::time_point when) {
  when_ = when;
  armed_ = true;
  // A pending timer that fires no later than `when` is re-checked when it fires.
  if (!timer_.active() || timer_at_ > when) schedule();
}

void Deadline::disarm() {
  armed_ = false;
  timer_.reset();
}

void Deadline::schedule() {
  auto delay = std::chrono::ceil<std::chrono::milliseconds>(when_ - Clock::now());
  timer_at_ = when_;
  timer_ = Source::timer(delay, [this] {
    if (!armed_) return;
    if (Clock::now() < when_) {
      schedule();  // moved later meanwhile
      return;
    }
    armed_ = false;
    fn_();
  });
}

}  // namespace sched
