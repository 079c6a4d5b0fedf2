// RowQueues, the bookkeeping of SQL-fed steps: per-host bounded queues, the
// any-host queue, give-back to the front.
#include "row_queues.hpp"

#include <gtest/gtest.h>

namespace {

using sched::RowQueues;

TEST(RowQueues, HostTakesItsOwnRowsThenAnyHostRows) {
  RowQueues q(10);
  ASSERT_TRUE(q.push("h1", "a"));
  ASSERT_TRUE(q.push("", "any"));
  ASSERT_TRUE(q.push("h2", "b"));
  EXPECT_EQ(q.available("h1"), 2u);
  EXPECT_EQ(q.available("h3"), 1u);
  EXPECT_EQ(q.take("h1")->line, "a");
  EXPECT_EQ(q.take("h1")->line, "any");
  EXPECT_FALSE(q.take("h1"));
  EXPECT_EQ(q.take("h2")->line, "b");
  EXPECT_EQ(q.out(), 3u);
  EXPECT_EQ(q.waiting(), 0u);
}

TEST(RowQueues, FullQueueRefusesButOthersGoOn) {
  RowQueues q(2);
  EXPECT_TRUE(q.push("h1", "1"));
  EXPECT_TRUE(q.push("h1", "2"));
  EXPECT_FALSE(q.push("h1", "3"));
  EXPECT_TRUE(q.full("h1"));
  EXPECT_TRUE(q.all_full());
  EXPECT_TRUE(q.push("h2", "x"));
  EXPECT_FALSE(q.all_full());
  EXPECT_EQ(q.waiting_in_open_queues(), 1u);  // h1 is full and does not count
}

TEST(RowQueues, GivenBackRowReturnsToTheFrontOfItsQueue) {
  RowQueues q(10);
  q.push("h1", "1");
  q.push("h1", "2");
  auto first = q.take("h1");
  ASSERT_TRUE(first);
  q.give_back(*first);
  EXPECT_EQ(q.out(), 0u);
  EXPECT_EQ(q.take("h2"), std::nullopt);  // h1's row stays h1's
  EXPECT_EQ(q.take("h1")->line, "1");
  auto second = q.take("h1");
  q.done(*second);
  EXPECT_EQ(q.out(), 1u);
}

}  // namespace
