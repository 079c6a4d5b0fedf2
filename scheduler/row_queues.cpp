// RowQueues: ids are (sequence << 16 | queue index).
#include "row_queues.hpp"

#include <algorithm>

namespace sched {

namespace {
constexpr unsigned kIndexBits = 16;
std::size_t queue_of(const Item& item) {
  return static_cast<std::size_t>(item.id & ((1u << kIndexBits) - 1));
}
}  // namespace

RowQueues::Queue* RowQueues::find(const std::string& holder) {
  for (auto& q : queues_)
    if (q.holder == holder) return &q;
  return nullptr;
}

const RowQueues::Queue* RowQueues::find(const std::string& holder) const {
  for (const auto& q : queues_)
    if (q.holder == holder) return &q;
  return nullptr;
}

bool RowQueues::full(const std::string& holder) const {
  const Queue* q = find(holder);
  return q && q->items.size() >= cap_;
}

bool RowQueues::push(const std::string& holder, std::string line) {
  Queue* q = find(holder);
  if (!q) {
    queues_.push_back({holder, {}});
    q = &queues_.back();
  }
  if (q->items.size() >= cap_) return false;
  auto index = static_cast<std::uint64_t>(q - queues_.data());
  q->items.push_back({next_++ << kIndexBits | index, std::move(line)});
  return true;
}

std::optional<Item> RowQueues::take(const std::string& host) {
  Queue* q = find(host);
  if (!q || q->items.empty()) q = find("");
  if (!q || q->items.empty()) return std::nullopt;
  Item item = std::move(q->items.front());
  q->items.pop_front();
  ++out_;
  return item;
}

void RowQueues::done(const Item&) {
  if (out_ > 0) --out_;
}

void RowQueues::give_back(Item item) {
  if (out_ > 0) --out_;
  std::size_t index = queue_of(item);
  if (index < queues_.size()) queues_[index].items.push_front(std::move(item));
}

std::size_t RowQueues::available(const std::string& host) const {
  std::size_t n = 0;
  if (const Queue* q = find(host)) n += q->items.size();
  if (!host.empty())
    if (const Queue* q = find("")) n += q->items.size();
  return n;
}

std::size_t RowQueues::waiting() const {
  std::size_t n = 0;
  for (const auto& q : queues_) n += q.items.size();
  return n;
}

std::size_t RowQueues::waiting_in_open_queues() const {
  std::size_t n = 0;
  for (const auto& q : queues_)
    if (q.items.size() < cap_) n += q.items.size();
  return n;
}

bool RowQueues::all_full() const {
  return !queues_.empty() && std::all_of(queues_.begin(), queues_.end(),
                                         [this](const Queue& q) { return q.items.size() >= cap_; });
}

std::size_t RowQueues::bytes() const {
  std::size_t n = 0;
  for (const auto& q : queues_)
    for (const auto& i : q.items) n += i.line.capacity() + sizeof(Item);
  return n;
}

}  // namespace sched
