// Unit tests of RereadPause (scheduler/agent_process.hpp): when the scheduler reads an agent's
// stdout again straight after answering it, rather than waiting for the loop's next pass.
#include "agent_process.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using sched::RereadPause;

// How many events say "not now" before the next "now".
int pause_length(RereadPause& r) {
  int n = 0;
  while (!r.now()) ++n;
  return n;
}

TEST(RereadPause, ReReadsUntilAMiss) {
  RereadPause r;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.now());
}

TEST(RereadPause, MissesInARowDoubleThePauseUpToTheCap) {
  RereadPause r;
  std::vector<int> pauses;
  for (int i = 0; i < 9; ++i) {
    r.missed();
    pauses.push_back(pause_length(r));
  }
  EXPECT_EQ(pauses, (std::vector<int>{1, 2, 4, 8, 16, 32, 64, 64, 64}));
  EXPECT_EQ(RereadPause::kMaxPause, 64);
}

// An agent on our CPU that misses now and then loses a pass or two, not the longest pause.
TEST(RereadPause, AFoundLineStartsThePausesOver) {
  RereadPause r;
  for (int i = 0; i < 5; ++i) {
    r.missed();
    pause_length(r);
  }
  r.found();
  EXPECT_TRUE(r.now());
  r.missed();
  EXPECT_EQ(pause_length(r), 1);
  r.missed();
  EXPECT_EQ(pause_length(r), 2);
}

}  // namespace
