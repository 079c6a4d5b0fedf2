// EventStream; see event_stream.hpp.
#include "event_stream.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "step_view.hpp"

namespace web {

EventStream::EventStream(App& app) : app_(app) {}

// A comment line every 15 s while clients listen: a dead connection shows up as a failed write.
void EventStream::arm_ping() {
  ping_ = sched::Source::timer(std::chrono::seconds(15), [this] {
    broadcast(": ping\n\n");
    if (!clients_.empty()) arm_ping();
  });
}

EventStream::~EventStream() {
  for (auto& c : clients_) {
    g_signal_handlers_disconnect_by_data(c.msg, this);
    g_object_unref(c.msg);
  }
}

void EventStream::add(const RequestPtr& req) {
  if (clients_.size() >= kMaxClients)
    return req->error(503, "too many event streams are open; close a tab or try later");
  SoupServerMessage* msg = req->take();
  g_object_ref(msg);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
  security_headers(msg);
  SoupMessageHeaders* h = soup_server_message_get_response_headers(msg);
  soup_message_headers_set_content_type(h, "text/event-stream; charset=utf-8", nullptr);
  soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
  g_signal_connect(msg, "finished", G_CALLBACK(on_finished), this);
  g_signal_connect(msg, "wrote-body-data", G_CALLBACK(on_wrote), this);
  clients_.push_back({msg});
  const std::string hello = "retry: 2000\n\n";
  soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
                           hello.data(), hello.size());
  clients_.back().appended = hello.size();
  if (!ping_.active()) arm_ping();
  // The running steps are read once for the new stream too (their progress so far); from then
  // on only NOTIFYs make reads.
  read_running_ = true;
  schedule(0);
}

void EventStream::on_finished(SoupServerMessage* msg, gpointer self) {
  static_cast<EventStream*>(self)->drop(msg);
}

void EventStream::on_wrote(SoupServerMessage* msg, guint size, gpointer self) {
  for (auto& c : static_cast<EventStream*>(self)->clients_)
    if (c.msg == msg) c.written += size;
}

void EventStream::drop(SoupServerMessage* msg) {
  auto it =
      std::find_if(clients_.begin(), clients_.end(), [&](const Client& c) { return c.msg == msg; });
  if (it == clients_.end()) return;
  g_signal_handlers_disconnect_by_data(msg, this);
  g_object_unref(msg);
  clients_.erase(it);
}

void EventStream::broadcast(const std::string& text) {
  std::vector<SoupServerMessage*> slow;
  for (auto& c : clients_) {
    if (c.appended - c.written + text.size() > kMaxUnsent) {
      slow.push_back(c.msg);  // a client that does not read: end its stream
      continue;
    }
    SoupMessageBody* body = soup_server_message_get_response_body(c.msg);
    soup_message_body_append(body, SOUP_MEMORY_COPY, text.data(), text.size());
    c.appended += text.size();
    soup_server_message_unpause(c.msg);
  }
  for (auto* msg : slow) {
    soup_message_body_complete(soup_server_message_get_response_body(msg));
    soup_server_message_unpause(msg);
    drop(msg);
  }
}

void EventStream::notify(const std::string& payload) {
  long long jq = parse_id(payload);
  if (jq == 0 || clients_.empty()) return;  // a page opened later reads the database anyway
  if (changed_.size() < 10000) changed_.insert(jq);
  schedule(50);
}

void EventStream::resync() {
  if (clients_.empty()) return;
  last_sent_.clear();
  broadcast("event: resync\ndata: 1\n\n");
  schedule(0);
}

void EventStream::schedule(int delay_ms) {
  if (in_flight_) {
    again_ = true;
    return;
  }
  if (timer_.active()) return;
  timer_ = sched::Source::timer(std::chrono::milliseconds(delay_ms), [this] {
    timer_.reset();
    refresh();
  });
}

void EventStream::refresh() {
  if (clients_.empty()) {
    changed_.clear();
    last_sent_.clear();
    read_running_ = false;
    return;
  }
  std::string ids = "{";
  for (long long jq : changed_) ids += (ids.size() > 1 ? "," : "") + std::to_string(jq);
  ids += "}";
  changed_.clear();
  in_flight_ = true;
  const bool running = read_running_;
  read_running_ = false;
  app_.db->query(
      "SELECT " + kStepColumns +
          " FROM jobqueue jq WHERE jq.jq_pk = ANY($1::int[])"
          " OR ($2 AND jq.jq_starttime IS NOT NULL AND jq.jq_endtime IS NULL) ORDER BY jq.jq_pk",
      {ids, running ? "true" : "false"}, [this](const sched::QueryResult& r) {
        in_flight_ = false;
        if (r.ok()) {
          for (int i = 0; i < r.rows(); ++i) {
            StepView s = StepView::from(r, i);
            std::string data =
                s.json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            bool ended = s.state == "completed" || s.state == "failed";
            auto it = last_sent_.find(s.jq);
            if (it != last_sent_.end() && it->second == data) continue;
            broadcast(fmt::format("event: step\ndata: {}\n\n", data));
            if (ended)
              last_sent_.erase(s.jq);
            else if (last_sent_.size() < 100000)
              last_sent_[s.jq] = data;
          }
        }
        if (again_) {
          again_ = false;
          schedule(50);
        }
      });
}

}  // namespace web
