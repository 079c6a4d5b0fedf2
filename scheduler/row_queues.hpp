// RowQueues: the fetched rows of an SQL-fed step waiting for agents, one bounded queue per
// holder host plus one for rows any host may take (holder ""), and the count of rows out with
// agents. Pure bookkeeping for SqlSource: no I/O. An item's id carries its queue, so a row an
// agent gives back returns to the front of the queue it came from.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "data_source.hpp"

namespace sched {

class RowQueues {
 public:
  explicit RowQueues(std::size_t cap) : cap_(cap) {}

  // Queues a row for `holder` ("" = any host); false (nothing queued) when that queue is full.
  bool push(const std::string& holder, std::string line);
  bool full(const std::string& holder) const;
  // The next row for an agent on `host`: its own queue first, then the any-host queue.
  std::optional<Item> take(const std::string& host);
  void done(const Item& item);
  void give_back(Item item);

  std::size_t available(const std::string& host) const;  // own queue + any-host queue
  std::size_t waiting() const;                           // queued in all queues
  std::size_t out() const { return out_; }               // taken, not done or given back
  // Rows queued in queues that are not full: when few, more rows are worth fetching.
  std::size_t waiting_in_open_queues() const;
  // True when every queue that has held a row is full (fetching would only skip rows).
  bool all_full() const;
  // Bytes of the queued lines (for the benchmark's report).
  std::size_t bytes() const;

 private:
  struct Queue {
    std::string holder;
    std::deque<Item> items;
  };
  Queue* find(const std::string& holder);
  const Queue* find(const std::string& holder) const;

  std::size_t cap_;
  std::vector<Queue> queues_;  // few: one per holder host, in order of first use
  std::size_t out_ = 0;
  std::uint64_t next_ = 1;
};

}  // namespace sched
