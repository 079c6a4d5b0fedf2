// Backoff: the delays between attempts to reach something that is away (the database after a
// lost connection): `first`, then doubling, never above `cap`; reset() once it answers. Pure
// (no clock, no loop); owned by whoever retries.
#pragma once

#include <algorithm>
#include <chrono>

namespace sched {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  static constexpr ms kFirst{100};
  static constexpr ms kCap{5000};

  explicit Backoff(ms first = kFirst, ms cap = kCap)
      : first_(first), cap_(std::max(cap, first)), next_(first) {}

  // The delay before the next attempt: first, 2 × first, 4 × first, … up to cap.
  ms next() {
    ms out = next_;
    next_ = std::min(cap_, next_ * 2);
    return out;
  }
  // The thing answered: the next outage starts again from `first`.
  void reset() { next_ = first_; }
  ms cap() const { return cap_; }

 private:
  ms first_, cap_, next_;
};

}  // namespace sched
