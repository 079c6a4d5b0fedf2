// Unit tests of Backoff (common/backoff.hpp): the delays between reconnection attempts.
#include "backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using ms = std::chrono::milliseconds;

std::vector<long> delays(sched::Backoff& b, int n) {
  std::vector<long> out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<long>(b.next().count()));
  return out;
}

TEST(Backoff, DoublesFromTheFirstDelayUpToTheCap) {
  sched::Backoff b;
  EXPECT_EQ(delays(b, 9), (std::vector<long>{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}));
  EXPECT_EQ(b.cap(), ms(5000));
}

TEST(Backoff, ResetStartsOver) {
  sched::Backoff b(ms(10), ms(35));
  EXPECT_EQ(delays(b, 4), (std::vector<long>{10, 20, 35, 35}));
  b.reset();
  EXPECT_EQ(delays(b, 2), (std::vector<long>{10, 20}));
}

TEST(Backoff, ACapBelowTheFirstDelayIsTheFirstDelay) {
  sched::Backoff b(ms(300), ms(100));
  EXPECT_EQ(delays(b, 3), (std::vector<long>{300, 300, 300}));
}

}  // namespace
