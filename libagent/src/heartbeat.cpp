// The heartbeat thread (see heartbeat.hpp). Waits on a condition variable with a deadline, so
// stopping is immediate and the beat keeps a steady period regardless of spurious wake-ups.
#include "heartbeat.hpp"

#include <signal.h>

#include <string>
#include <utility>

#include "agent/protocol.hpp"

namespace agent::detail {

Heartbeat::Heartbeat(Writer& writer, std::chrono::milliseconds interval,
                     std::function<void()> on_hangup)
    : writer_(writer),
      interval_(interval),
      on_hangup_(std::move(on_hangup)),
      thread_([this] { run(); }) {}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Heartbeat::run() {
  // Signals are for the agent's own threads: a handler must never run on this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  const std::string line = protocol::format(protocol::msg::Heartbeat{});
  auto deadline = std::chrono::steady_clock::now() + interval_;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_until(lock, deadline, [this] { return stop_; })) {
    lock.unlock();
    const bool written = writer_.write_line(line) == Writer::Result::Written;
    if (!written && on_hangup_) on_hangup_();
    lock.lock();
    if (!written) return;
    deadline += interval_;
    // After a long stall (a full pipe), beat again at once rather than in a burst.
    const auto now = std::chrono::steady_clock::now();
    if (deadline < now) deadline = now;
  }
}

}  // namespace agent::detail
