// HostStatus: down hosts, their retry times and the one timer for the earliest retry.
#include "host_status.hpp"

#include <algorithm>

#include "log.hpp"

namespace sched {

namespace {
constexpr std::chrono::milliseconds kFirstRetry{5000};
constexpr int kSshFailure = 255;
}  // namespace

bool HostStatus::may_start(const std::string& host) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || !it->second.down) return true;
  return !it->second.probing && Clock::now() >= it->second.retry_at;
}

void HostStatus::started(const std::string& host) {
  auto it = hosts_.find(host);
  if (it != hosts_.end() && it->second.down) it->second.probing = true;
}

void HostStatus::running(const std::string& host) {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || !it->second.down) return;
  hosts_.erase(it);
  log::note("host '{}' is up again: an agent started there", host);
}

bool HostStatus::down(const std::string& host) const {
  auto it = hosts_.find(host);
  return it != hosts_.end() && it->second.down;
}

bool HostStatus::exited(const HostConfig& host, bool said_ok, bool killed, int exit_code,
                        std::chrono::milliseconds poll_interval) {
  if (!host.local() && !said_ok && killed) {
    // The scheduler ended it before its first OK (its startup or heartbeat timeout, the step's
    // kill). ssh exits 255 on SIGTERM as well, so the exit code says nothing about the host:
    // the exit is the agent's own failure. A probe that was out is over; the host stays down.
    auto it = hosts_.find(host.name);
    if (it != hosts_.end() && it->second.probing) {
      it->second.probing = false;
      it->second.retry_at = Clock::now() + it->second.backoff;
      arm();
    }
    return false;
  }
  if (host.local() || said_ok || exit_code != kSshFailure) {
    running(host.name);  // it was reached (then said OK, or failed on its own)
    return false;
  }
  State& s = hosts_[host.name];
  auto cap = std::max(poll_interval, std::chrono::milliseconds(1));
  if (!s.down) {
    s.down = true;
    s.backoff = std::min(kFirstRetry, cap);
    log::error(
        "host '{}' is down: an agent launched through ssh to '{}' exited with code 255 before "
        "its first OK; its rows wait; next try in {} ms",
        host.name, host.address, s.backoff.count());
  } else if (s.probing) {
    s.backoff = std::min(s.backoff * 2, cap);
  }
  s.probing = false;
  s.retry_at = Clock::now() + s.backoff;
  arm();
  return true;
}

void HostStatus::retry_all_now() {
  for (auto& [name, s] : hosts_) s.retry_at = Clock::now();
  arm();
}

// One timer for the earliest retry among down hosts without a probe out.
void HostStatus::arm() {
  auto next = Clock::time_point::max();
  for (const auto& [name, s] : hosts_)
    if (s.down && !s.probing) next = std::min(next, s.retry_at);
  if (next == Clock::time_point::max()) {
    timer_.reset();
    return;
  }
  auto delay = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
  timer_ = Source::timer(std::max(delay, std::chrono::milliseconds(0)), [this] {
    if (on_retry_due_) on_retry_due_();
  });
}

}  // namespace sched
