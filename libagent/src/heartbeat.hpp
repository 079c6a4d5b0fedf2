// The heartbeat thread of a scheduler-mode Session: writes `Heartbeat` through the shared
// Writer every interval until stopped. Owned by the Session; the destructor stops and joins it,
// so the thread never outlives the writer it uses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "writer.hpp"

namespace agent::detail {

class Heartbeat {
 public:
  // `on_hangup` runs on the heartbeat thread once, when a beat could not be written (the
  // scheduler is gone); the thread then ends.
  Heartbeat(Writer& writer, std::chrono::milliseconds interval, std::function<void()> on_hangup);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void run();

  Writer& writer_;
  std::chrono::milliseconds interval_;
  std::function<void()> on_hangup_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after every member it uses is initialised
};

}  // namespace agent::detail
