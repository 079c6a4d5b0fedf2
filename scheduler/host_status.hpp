// HostStatus: which hosts are down (SPEC §5.2.1). A remote host is down when an agent started
// there ends with exit code 255 — ssh's own failure: connection refused, unreachable, login
// refused — before its first OK. A down host gets no agents until its retry time; then one
// probe agent is started; its first OK marks the host up again, another 255 pushes the retry
// out (min(5 s, poll_interval), doubling up to poll_interval). Rows routed to a down host wait
// for it. One log line when a host goes down and one when it comes back. Owned by the
// Scheduler; keyed by host name so it survives reloads.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "config.hpp"
#include "event_loop.hpp"

namespace sched {

class HostStatus {
 public:
  // `on_retry_due` runs when a down host may be tried again (the dispatcher should run).
  explicit HostStatus(std::function<void()> on_retry_due)
      : on_retry_due_(std::move(on_retry_due)) {}

  // An agent may start on `host` now: it is up, or its retry is due and no probe is out.
  bool may_start(const std::string& host) const;
  void started(const std::string& host);  // an agent was started there
  void running(const std::string& host);  // an agent there said its first OK: the host is up
  // An agent on `host` exited. True when the exit shows that the host is down (the agent
  // never ran, so its failure is the host's, not the step's): ssh's exit code 255 before the
  // first OK, unless the scheduler had killed the agent (`killed`).
  bool exited(const HostConfig& host, bool said_ok, bool killed, int exit_code,
              std::chrono::milliseconds poll_interval);
  bool down(const std::string& host) const;
  // A new configuration: hosts that were down are tried again at once.
  void retry_all_now();

 private:
  struct State {
    bool down = false;
    bool probing = false;
    Clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  void arm();

  std::map<std::string, State> hosts_;
  std::function<void()> on_retry_due_;
  Source timer_;
};

}  // namespace sched
