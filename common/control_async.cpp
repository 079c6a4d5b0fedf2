// control_async (control_async.hpp): one Exchange object per call, driven by GIO's
// asynchronous connect, write and read on the default main context, and one timer for the
// deadline. Each pending GIO operation holds a reference to the Exchange, so a callback that
// comes after the end (cancelled) still finds it; it then does nothing.
#include "control_async.hpp"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <sys/un.h>

#include <array>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "event_loop.hpp"

namespace jobctl {
namespace {

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(const sched::Config& config, std::vector<std::string> commands,
           std::chrono::milliseconds timeout, ControlDone done)
      : conf_dir_(config.conf_dir),
        places_(control_places(config)),
        commands_(std::move(commands)),
        timeout_(timeout),
        done_(std::move(done)),
        cancellable_(g_cancellable_new()),
        client_(g_socket_client_new()) {
    for (const auto& place : places_) auth_.push_back(auth_line(config, place));
    // Proxies from the environment are for the outside world, not for the local scheduler.
    g_socket_client_set_enable_proxy(client_, FALSE);
  }
  ~Exchange() {
    if (connection_ != nullptr) g_object_unref(connection_);
    g_object_unref(client_);
    g_object_unref(cancellable_);
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  void start() {
    self_ = shared_from_this();
    timer_ = sched::Source::timer(timeout_, [this] { on_timeout(); });
    if (commands_.empty() || places_.empty())  // answered from the loop, as always
      idle_.request();
    else
      connect_next();
  }

 private:
  // A reference for a pending GIO operation (released by its callback).
  gpointer hold() { return new std::shared_ptr<Exchange>(shared_from_this()); }
  static std::shared_ptr<Exchange> take(gpointer data) {
    std::unique_ptr<std::shared_ptr<Exchange>> held(static_cast<std::shared_ptr<Exchange>*>(data));
    return *held;
  }
  std::string seconds() const {
    return fmt::format("{:g} s", static_cast<double>(timeout_.count()) / 1000.0);
  }

  void connect_next() {
    if (place_ >= places_.size()) return finish(unreachable_message(conf_dir_, tried_));
    const ControlPlace& p = places_[place_];
    if (p.unix_socket) {
      if (p.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        tried_.emplace_back(p, "path too long");
        ++place_;
        return connect_next();
      }
      GSocketAddress* address = g_unix_socket_address_new(p.path.c_str());
      g_socket_client_connect_async(client_, G_SOCKET_CONNECTABLE(address), cancellable_,
                                    on_connected, hold());
      g_object_unref(address);
    } else {
      g_socket_client_connect_to_host_async(client_, p.host.c_str(), static_cast<guint16>(p.port),
                                            cancellable_, on_connected, hold());
    }
  }

  static void on_connected(GObject* client, GAsyncResult* res, gpointer data) {
    auto self = take(data);
    GError* err = nullptr;
    GSocketConnection* c = g_socket_client_connect_finish(G_SOCKET_CLIENT(client), res, &err);
    if (self->finished_) {
      if (c != nullptr) g_object_unref(c);
      if (err != nullptr) g_error_free(err);
      return;
    }
    if (c == nullptr) {
      self->tried_.emplace_back(self->places_[self->place_], err->message);
      g_error_free(err);
      ++self->place_;
      return self->connect_next();
    }
    self->connection_ = c;
    self->result_.where = self->places_[self->place_].where();
    self->parser_ = ReplyParser(self->result_.where);
    const std::string& auth = self->auth_[self->place_];
    if (!auth.empty()) {
      self->in_auth_ = true;
      self->send(auth);
    } else {
      self->send_next();
    }
    self->read_more();
  }

  void send_next() {
    if (sent_ < commands_.size()) send(commands_[sent_++]);
  }

  // Lines are written one write at a time (GIO allows one pending write per stream): a reply
  // can be read, and the next command queued, before the previous write's callback ran.
  void send(const std::string& line) {
    queued_ += line + "\n";
    flush();
  }

  void flush() {
    if (writing_ || queued_.empty() || finished_) return;
    writing_ = true;
    out_ = std::exchange(queued_, {});
    g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(connection_)),
                                    out_.data(), out_.size(), G_PRIORITY_DEFAULT, cancellable_,
                                    on_written, hold());
  }

  static void on_written(GObject* stream, GAsyncResult* res, gpointer data) {
    auto self = take(data);
    GError* err = nullptr;
    gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(stream), res, nullptr, &err);
    self->writing_ = false;
    if (!ok && !self->finished_)
      self->finish(fmt::format("{}: cannot send: {}", self->result_.where, err->message));
    if (err != nullptr) g_error_free(err);
    self->flush();
  }

  void read_more() {
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(connection_)),
                              buffer_.data(), buffer_.size(), G_PRIORITY_DEFAULT, cancellable_,
                              on_read, hold());
  }

  static void on_read(GObject* stream, GAsyncResult* res, gpointer data) {
    auto self = take(data);
    GError* err = nullptr;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(stream), res, &err);
    if (self->finished_) {
      if (err != nullptr) g_error_free(err);
      return;
    }
    const std::string& where = self->result_.where;
    if (n < 0) {
      std::string why = err->message;
      g_error_free(err);
      return self->finish(fmt::format("{}: cannot read: {}", where, why));
    }
    if (n == 0) return self->finish(fmt::format("{}: the scheduler closed the connection", where));
    self->bytes_ += static_cast<std::size_t>(n);
    if (self->bytes_ > kMaxControlReplyBytes)
      return self->finish(
          fmt::format("{}: a reply of more than {} MiB", where, kMaxControlReplyBytes >> 20));
    self->parser_.append(std::string_view(self->buffer_.data(), static_cast<std::size_t>(n)));
    try {
      while (auto reply = self->parser_.next()) {
        if (self->in_auth_) {
          self->in_auth_ = false;
          if (!reply->empty() && is_error_line(reply->front()))
            return self->finish(fmt::format("{}: {}", where, reply->front()));
        } else {
          self->result_.replies.push_back(std::move(*reply));
          if (self->result_.replies.size() == self->commands_.size()) return self->finish("");
        }
        self->send_next();
      }
    } catch (const ControlError& e) {
      return self->finish(e.what());
    }
    self->read_more();
  }

  void on_timeout() {
    if (connection_ == nullptr) {
      if (place_ < places_.size())
        tried_.emplace_back(places_[place_], "no connection within " + seconds());
      return finish(unreachable_message(conf_dir_, tried_));
    }
    finish(fmt::format("{}: no reply within {}", result_.where, seconds()));
  }

  // Ends the exchange: pending operations are cancelled (their callbacks find finished_),
  // the connection is shut down, `done` runs, and the last reference goes with the last
  // pending operation.
  void finish(const std::string& error) {
    if (finished_) return;
    finished_ = true;
    auto keep = std::move(self_);
    timer_.reset();
    idle_.cancel();
    g_cancellable_cancel(cancellable_);
    // The scheduler sees the end now; the descriptor goes with the last reference.
    if (connection_ != nullptr)
      g_socket_shutdown(g_socket_connection_get_socket(connection_), TRUE, TRUE, nullptr);
    result_.error = error;
    if (!error.empty()) result_.replies.clear();
    ControlDone done = std::move(done_);
    done(std::move(result_));
  }

  std::string conf_dir_;
  std::vector<ControlPlace> places_;
  std::vector<std::string> auth_;  // per place
  std::vector<std::pair<ControlPlace, std::string>> tried_;
  std::size_t place_ = 0;
  std::vector<std::string> commands_;
  std::size_t sent_ = 0;
  bool in_auth_ = false, finished_ = false;
  std::chrono::milliseconds timeout_;
  ControlDone done_;
  GCancellable* cancellable_;
  GSocketClient* client_;
  GSocketConnection* connection_ = nullptr;
  std::shared_ptr<Exchange> self_;  // alive until finish()
  sched::Source timer_;
  sched::Pending idle_{[this] {  // start() without anything to send or anywhere to send it
    if (commands_.empty())
      finish("");
    else
      connect_next();
  }};
  ReplyParser parser_{""};
  std::size_t bytes_ = 0;
  std::array<char, 4096> buffer_{};
  std::string out_;     // being written
  std::string queued_;  // to write when that is done
  bool writing_ = false;
  ControlResult result_;
};

}  // namespace

void control_async(const sched::Config& config, std::vector<std::string> commands,
                   std::chrono::milliseconds timeout, ControlDone done) {
  std::make_shared<Exchange>(config, std::move(commands), timeout, std::move(done))->start();
}

}  // namespace jobctl
