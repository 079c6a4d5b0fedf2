// DataSource: where a step's data lines come from. A plain step (SPEC §5.1) has one line,
// its jq_args; an SQL-fed step (§5.2) has the rows of its query, routed to hosts. Agents take
// items, acknowledge them (done) or, when they die, give them back to be fed again
// (at-least-once). Owned by its Job; agents hold a pointer only while the Job lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/protocol.hpp"

namespace sched {

struct Item {
  std::uint64_t id = 0;
  std::string line;  // the data line, without '\n'
};

// Why `line` cannot be sent to an agent as one data line (SPEC §2: no '\n', at most 64 KiB),
// or nullopt when it can.
inline std::optional<std::string> unsendable(std::string_view line, std::string_view what) {
  if (auto nl = line.find('\n'); nl != std::string_view::npos)
    return std::string(what) + " cannot be sent as one data line: it holds a newline at byte " +
           std::to_string(nl);
  if (line.size() > agent::protocol::max_line_bytes)
    return std::string(what) + " cannot be sent as one data line: it is " +
           std::to_string(line.size()) + " bytes, over the limit of " +
           std::to_string(agent::protocol::max_line_bytes);
  return std::nullopt;
}

class DataSource {
 public:
  virtual ~DataSource() = default;
  // The next item for an agent on `host`, or nullopt when none is available for it now.
  virtual std::optional<Item> take(const std::string& host) = 0;
  // An agent acknowledged the item: it is done.
  virtual void done(const Item& item) = 0;
  // An agent died holding the item: feed it again.
  virtual void give_back(Item item) = 0;
  // Nothing is left, nothing is out with an agent, and nothing more will come.
  virtual bool finished() const = 0;
  // How many items an agent on `host` could take now (used to start agents where needed).
  virtual std::size_t available(const std::string& host) const = 0;
  // Whether items are bound to hosts (routed rows); if not, any host serves every item.
  virtual bool routed() const { return false; }
  // After an agent failed with nothing out: make the data available again if this source
  // cannot tell done from not done by itself (a plain step is simply run again).
  virtual void rewind() {}
};

// The one line of a plain step (or no line at all, for self-tests).
class PlainSource final : public DataSource {
 public:
  explicit PlainSource(std::optional<std::string> line) : line_(std::move(line)) {}
  std::optional<Item> take(const std::string&) override {
    if (!line_ || state_ != State::Ready) return std::nullopt;
    state_ = State::Out;
    return Item{1, *line_};
  }
  void done(const Item&) override { state_ = State::Done; }
  void give_back(Item) override { state_ = State::Ready; }
  bool finished() const override { return !line_ || state_ == State::Done; }
  std::size_t available(const std::string&) const override {
    return line_ && state_ == State::Ready ? 1 : 0;
  }
  void rewind() override {
    if (line_) state_ = State::Ready;
  }

 private:
  enum class State { Ready, Out, Done };
  std::optional<std::string> line_;
  State state_ = State::Ready;
};

}  // namespace sched
