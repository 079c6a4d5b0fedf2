// The loop's one GSource: prepare and check look at the earliest timer and the pending list;
// GLib polls the epoll fd; a dispatch runs the ready fds, then the due timers, then the pending
// work, so that work requested by this pass's events runs once, after all of them.
#include "loop_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <utility>

namespace sched::loop {

namespace {

constexpr int kMaxEvents = 256;  // per dispatch; more stay ready (level-triggered) for the next
// The epoll data of GLib's wake-up fd: no fd and generation of a watch give it.
constexpr std::uint64_t kWakeupTag = UINT64_MAX;

std::uint32_t to_epoll(GIOCondition c) {
  std::uint32_t e = 0;
  if (c & G_IO_IN) e |= EPOLLIN;
  if (c & G_IO_PRI) e |= EPOLLPRI;
  if (c & G_IO_OUT) e |= EPOLLOUT;
  return e;  // EPOLLERR and EPOLLHUP are always reported
}

GIOCondition from_epoll(std::uint32_t e) {
  unsigned c = 0;
  if (e & EPOLLIN) c |= G_IO_IN;
  if (e & EPOLLPRI) c |= G_IO_PRI;
  if (e & EPOLLOUT) c |= G_IO_OUT;
  if (e & EPOLLERR) c |= G_IO_ERR;
  if (e & EPOLLHUP) c |= G_IO_HUP;
  return static_cast<GIOCondition>(c);
}

bool earlier(const Timer& a, const Timer& b) {
  return a.when < b.when || (a.when == b.when && a.seq < b.seq);
}

}  // namespace

struct LoopSource::Funcs {
  struct Wrapper {
    GSource base;
    LoopSource* self;
    gpointer tag;
  };
  static LoopSource& self(GSource* s) { return *reinterpret_cast<Wrapper*>(s)->self; }
  static gboolean prepare(GSource* s, gint* timeout) {
    if (self(s).dispatching_) {  // a loop iterated from a callback: not dispatched again
      *timeout = -1;
      return FALSE;
    }
    self(s).prefetched_ = -1;  // (events a poll read that no dispatch took: read again)
    auto now = Clock::now();
    *timeout = self(s).timeout_ms(now);
    return self(s).ready(now);
  }
  static gboolean check(GSource* s) {
    if (self(s).dispatching_) return FALSE;
    auto* w = reinterpret_cast<Wrapper*>(s);
    return self(s).ready(Clock::now()) || (g_source_query_unix_fd(s, w->tag) & G_IO_IN) != 0;
  }
  static gboolean dispatch(GSource* s, GSourceFunc, gpointer) {
    self(s).dispatch();
    return G_SOURCE_CONTINUE;
  }
  static GSourceFuncs funcs;
};

GSourceFuncs LoopSource::Funcs::funcs = {prepare, check, dispatch, nullptr, nullptr, nullptr};

LoopSource& LoopSource::get() {
  static LoopSource& instance = *new LoopSource();  // lives as long as the process
  return instance;
}

LoopSource::LoopSource() : events_(kMaxEvents) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  source_ = g_source_new(&Funcs::funcs, sizeof(Funcs::Wrapper));
  auto* w = reinterpret_cast<Funcs::Wrapper*>(source_);
  w->self = this;
  w->tag = g_source_add_unix_fd(source_, epfd_, G_IO_IN);
  g_source_set_name(source_, "jobline loop");
  // Not blocked while it dispatches: GLib blocks a source by taking its fds out of the poll
  // set and putting them back afterwards, each time waking the loop through its eventfd (two
  // writes, a read and an extra poll per dispatch). A nested iteration is kept out by
  // dispatching_ instead.
  g_source_set_can_recurse(source_, TRUE);
  g_source_attach(source_, nullptr);
  g_main_context_set_poll_func(g_main_context_default(), &LoopSource::poll);
}

// GLib's poll, for the default context. When it polls only the epoll fd and its own wake-up
// fd (always so in the scheduler), one epoll_wait is the wait: the watches' events are kept
// for the dispatch that follows, and the wake-up fd's readiness is handed back to GLib, which
// reads it. Anything else (other GSources' fds, e.g. libsoup's) goes to g_poll as before.
gint LoopSource::poll(GPollFD* fds, guint nfds, gint timeout) {
  LoopSource& l = get();
  GPollFD* ours = nullptr;
  GPollFD* wakeup = nullptr;
  if (nfds == 2) {
    for (guint i = 0; i < 2; ++i) (fds[i].fd == l.epfd_ ? ours : wakeup) = &fds[i];
  }
  // (An iteration nested in a dispatch polls as GLib would: events_ is being read.)
  if (l.dispatching_ || !ours || !wakeup || wakeup->events != G_IO_IN ||
      !l.watch_wakeup(wakeup->fd))
    return g_poll(fds, nfds, timeout);
  int n = epoll_wait(l.epfd_, l.events_.data(), kMaxEvents, timeout);
  if (n < 0) return -1;  // errno as poll's (EINTR)
  ours->revents = 0;
  wakeup->revents = 0;
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = l.events_[static_cast<std::size_t>(i)];
    if (ev.data.u64 == kWakeupTag)
      wakeup->revents = G_IO_IN;
    else
      l.events_[static_cast<std::size_t>(kept++)] = ev;
  }
  l.prefetched_ = kept;
  if (kept > 0) ours->revents = G_IO_IN;
  return (ours->revents != 0 ? 1 : 0) + (wakeup->revents != 0 ? 1 : 0);
}

bool LoopSource::watch_wakeup(int fd) {
  if (fd == wakeup_fd_) return true;
  if (wakeup_fd_ >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, wakeup_fd_, nullptr);
  wakeup_fd_ = -1;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeupTag;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  wakeup_fd_ = fd;
  return true;
}

// ---- fd watches ----------------------------------------------------------------------------

bool LoopSource::add(const std::shared_ptr<FdWatch>& w) {
  if (w->fd < 0) return false;
  auto fd = static_cast<std::size_t>(w->fd);
  if (fds_.size() <= fd) fds_.resize(fd + 1);
  fds_[fd].watches.push_back(w);
  w->live = true;
  ++watch_count_;
  if (update(w->fd)) return true;
  fds_[fd].watches.pop_back();
  w->live = false;
  --watch_count_;
  update(w->fd);
  return false;
}

void LoopSource::remove(const std::shared_ptr<FdWatch>& w) {
  if (!w->live) return;
  w->live = false;
  --watch_count_;
  auto& v = fds_[static_cast<std::size_t>(w->fd)].watches;
  v.erase(std::find(v.begin(), v.end(), w));
  update(w->fd);
  if (w->owns_fd) close(w->fd);
}

// Registers, modifies or deletes the fd in the epoll set. An fd that was closed while watched
// left the set by itself (the kernel drops a closed file); if its number is open again, MOD
// fails with ENOENT and the new file is added under a new generation.
bool LoopSource::update(int fd) {
  auto& e = fds_[static_cast<std::size_t>(fd)];
  if (e.watches.empty()) {
    if (e.mask != 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // EBADF if closed: fine
    e.mask = 0;
    return true;
  }
  std::uint32_t want = EPOLLERR;  // nonzero: marks "registered" in e.mask
  for (const auto& w : e.watches) want |= to_epoll(w->condition);
  if (e.mask == want) return true;
  epoll_event ev{};
  ev.events = want;
  if (e.mask != 0) {
    ev.data.u64 = (std::uint64_t{e.gen} << 32) | static_cast<std::uint32_t>(fd);
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) {
      e.mask = want;
      return true;
    }
    if (errno != ENOENT) return false;
  }
  ++e.gen;
  ev.data.u64 = (std::uint64_t{e.gen} << 32) | static_cast<std::uint32_t>(fd);
  int rc = epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0 && errno == EEXIST) rc = epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  e.mask = rc == 0 ? want : 0;
  return rc == 0;
}

void LoopSource::run_fd_event(const epoll_event& ev) {
  auto fd = static_cast<std::size_t>(ev.data.u64 & 0xffffffffu);
  auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
  if (ev.data.u64 == kWakeupTag) return;  // GLib's wake-up fd: GLib reads it
  if (fd >= fds_.size() || fds_[fd].gen != gen || fds_[fd].watches.empty()) return;
  GIOCondition got = from_epoll(ev.events);
  auto call = [&](const std::shared_ptr<FdWatch>& w) {
    if (!w->live) return;  // removed by an earlier callback
    auto c = static_cast<GIOCondition>(got & (w->condition | G_IO_HUP | G_IO_ERR));
    if (c != 0 && !w->fn(c)) remove(w);
  };
  if (fds_[fd].watches.size() == 1) {
    auto w = fds_[fd].watches.front();  // a copy: the callback may drop its owner's
    call(w);
    return;
  }
  auto copy = fds_[fd].watches;
  for (const auto& w : copy) call(w);
}

// ---- timers --------------------------------------------------------------------------------

void LoopSource::place(std::size_t i, std::shared_ptr<Timer> t) {
  t->index = i;
  heap_[i] = std::move(t);
}

void LoopSource::sift_up(std::size_t i) {
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!earlier(*heap_[i], *heap_[parent])) break;
    auto moving = std::move(heap_[i]);
    place(i, std::move(heap_[parent]));
    place(parent, std::move(moving));
    i = parent;
  }
}

void LoopSource::sift_down(std::size_t i) {
  for (;;) {
    std::size_t least = i;
    for (std::size_t child : {2 * i + 1, 2 * i + 2})
      if (child < heap_.size() && earlier(*heap_[child], *heap_[least])) least = child;
    if (least == i) break;
    auto moving = std::move(heap_[i]);
    place(i, std::move(heap_[least]));
    place(least, std::move(moving));
    i = least;
  }
}

void LoopSource::heap_remove(std::size_t i) {
  heap_[i]->index = Timer::kNotQueued;
  std::size_t last = heap_.size() - 1;
  if (i != last) {
    place(i, std::move(heap_[last]));
    heap_.pop_back();
    if (i > 0 && earlier(*heap_[i], *heap_[(i - 1) / 2]))
      sift_up(i);
    else
      sift_down(i);
  } else {
    heap_.pop_back();
  }
}

void LoopSource::schedule(const std::shared_ptr<Timer>& t, Clock::time_point when) {
  if (t->queued()) heap_remove(t->index);
  t->when = when;
  t->seq = next_seq_++;
  heap_.push_back(t);
  t->index = heap_.size() - 1;
  sift_up(t->index);
}

void LoopSource::cancel(const std::shared_ptr<Timer>& t) {
  if (t->queued()) heap_remove(t->index);
}

int LoopSource::timeout_ms(Clock::time_point now) const {
  if (!tasks_.empty()) return 0;
  if (heap_.empty()) return -1;
  auto left = heap_.front()->when - now;
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

bool LoopSource::ready(Clock::time_point now) const {
  return !tasks_.empty() || (!heap_.empty() && heap_.front()->when <= now);
}

// Fires the timers due at `now` that were scheduled before this pass (one scheduled by a
// callback, even with no delay, waits for the next pass).
void LoopSource::run_timers(Clock::time_point now) {
  std::uint64_t limit = next_seq_;
  while (!heap_.empty() && heap_.front()->when <= now && heap_.front()->seq < limit) {
    auto t = heap_.front();  // keeps the closure alive while it runs
    heap_remove(0);
    t->fn();
  }
}

// ---- pending work --------------------------------------------------------------------------

void LoopSource::request(const std::shared_ptr<Task>& t) {
  t->requested = true;
  if (t->listed) return;
  t->listed = true;
  tasks_.push_back(t);
}

// Runs what was requested before this pass; requests made meanwhile wait for the next one.
void LoopSource::run_tasks() {
  if (tasks_.empty()) return;
  auto running = std::exchange(tasks_, {});
  for (const auto& t : running) t->listed = false;
  for (const auto& t : running) {
    if (!std::exchange(t->requested, false)) continue;  // cancelled meanwhile
    t->fn();
  }
}

void LoopSource::dispatch() {
  if (dispatching_) return;
  dispatching_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{dispatching_};
  auto* w = reinterpret_cast<Funcs::Wrapper*>(source_);
  int n = std::exchange(prefetched_, -1);
  if (n < 0 && (g_source_query_unix_fd(source_, w->tag) & G_IO_IN) != 0)
    n = epoll_wait(epfd_, events_.data(), kMaxEvents, 0);  // (GLib's wake-up fd: skipped below)
  for (int i = 0; i < n; ++i) run_fd_event(events_[static_cast<std::size_t>(i)]);
  run_timers(Clock::now());
  run_tasks();
}

}  // namespace sched::loop
