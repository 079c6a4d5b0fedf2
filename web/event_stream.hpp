// EventStream: the Server-Sent Events behind the live pages (/events). The database's NOTIFYs
// mark a step changed: `jobline_jobqueue` (a step inserted, started again or ended) and
// `jobline_progress` (it started, its end text or its items done or known changed;
// docs/database.md). Within 50 ms the
// changed steps are read (one query for all clients) and sent to every client as
// `event: step` with StepView::json() when they differ from what was last sent. Nothing is
// read periodically: when a stream opens, the running steps are read once, so that a new page
// is current. Clients are bounded in number and in unsent bytes; a ping every 15 s finds dead
// ones.
#pragma once

#include <libsoup/soup.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "event_loop.hpp"
#include "server.hpp"

namespace web {

class EventStream {
 public:
  static constexpr std::size_t kMaxClients = 64;
  static constexpr std::size_t kMaxUnsent = 1u << 20;

  explicit EventStream(App& app);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Answers `req` with a text/event-stream that stays open.
  void add(const RequestPtr& req);
  // A NOTIFY on jobline_jobqueue or jobline_progress; `payload` is the step's jq_pk.
  void notify(const std::string& payload);
  // The database connection was made (again): changes while it was away came with no NOTIFY,
  // so every client is told to read its page's live part again (`event: resync`), and the
  // running steps are read.
  void resync();
  std::size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    SoupServerMessage* msg = nullptr;
    std::size_t appended = 0, written = 0;
    bool closed = false;
  };
  static void on_finished(SoupServerMessage* msg, gpointer self);
  static void on_wrote(SoupServerMessage* msg, guint size, gpointer self);
  void drop(SoupServerMessage* msg);
  void broadcast(const std::string& text);
  void schedule(int delay_ms);
  void refresh();
  void arm_ping();

  App& app_;
  std::vector<Client> clients_;
  std::set<long long> changed_;
  std::map<long long, std::string> last_sent_;  // steps not ended, as last sent
  bool in_flight_ = false, again_ = false;
  bool read_running_ = false;  // the next read includes every running step (a stream opened)
  sched::Source timer_, ping_;
};

}  // namespace web
