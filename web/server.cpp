// Server and Request; see server.hpp.
#include "server.hpp"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

#include "assets.hpp"
#include "event_stream.hpp"
#include "html.hpp"

namespace web {
namespace {

// Compares without an early exit, so the time taken does not tell how much matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned x = static_cast<unsigned char>(a[i]);
    unsigned y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

gboolean check_password(SoupAuthDomain*, SoupServerMessage*, const char*, const char* password,
                        gpointer app) {
  const auto* a = static_cast<const App*>(app);
  return password != nullptr && same_secret(password, a->web.password) ? TRUE : FALSE;
}

// A request whose body would be over the limit (or of unknown length) is answered from its
// headers: libsoup 3 would read the whole body first, so the connection is taken over, the
// answer written and the connection closed without reading further.
void got_headers(SoupServerMessage* msg, gpointer app) {
  const auto* a = static_cast<const App*>(app);
  SoupMessageHeaders* h = soup_server_message_get_request_headers(msg);
  std::string_view method = soup_server_message_get_method(msg);
  if (method != "POST" && method != "PUT") return;
  const char* answer = nullptr;
  if (soup_message_headers_get_encoding(h) != SOUP_ENCODING_CONTENT_LENGTH)
    answer = "411 Length Required";
  else if (static_cast<std::size_t>(soup_message_headers_get_content_length(h)) >
           a->web.upload_limit)
    answer = "413 Content Too Large";
  if (answer == nullptr) return;
  std::string text =
      fmt::format("{}: at most {} MiB, with a Content-Length\n", answer, a->web.upload_limit >> 20);
  std::string reply = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      answer, text.size(), text);
  GIOStream* stream = soup_server_message_steal_connection(msg);
  if (stream == nullptr) return;
  // A few hundred bytes into a fresh socket's buffer: the write does not wait.
  g_output_stream_write_all(g_io_stream_get_output_stream(stream), reply.data(), reply.size(),
                            nullptr, nullptr, nullptr);
  g_io_stream_close(stream, nullptr, nullptr);
  g_object_unref(stream);
}

}  // namespace

long long parse_id(const std::string& text) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v <= 0 || v > 2147483647) return 0;
  return v;
}

void security_headers(SoupServerMessage* msg) {
  SoupMessageHeaders* h = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(h, "Content-Security-Policy",
                               "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'");
  soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace(h, "X-Frame-Options", "DENY");
  soup_message_headers_replace(h, "Referrer-Policy", "same-origin");
  soup_message_headers_replace(h, "Cache-Control", "no-store");
}

// ---- Request --------------------------------------------------------------------------------

Request::Request(SoupServerMessage* msg, std::string path, GHashTable* query)
    : msg_(static_cast<SoupServerMessage*>(g_object_ref(msg))),
      path_(std::move(path)),
      method_(soup_server_message_get_method(msg)) {
  if (query != nullptr) {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, query);
    while (g_hash_table_iter_next(&it, &k, &v))
      query_.emplace(static_cast<const char*>(k), static_cast<const char*>(v));
  }
}

Request::~Request() {
  if (!answered_) {  // a callback dropped it: never leave the client hanging
    soup_server_message_set_status(msg_, SOUP_STATUS_INTERNAL_SERVER_ERROR, nullptr);
    if (paused_) soup_server_message_unpause(msg_);
  }
  g_object_unref(msg_);
}

std::string Request::query(const std::string& key) const {
  auto it = query_.find(key);
  return it == query_.end() ? "" : it->second;
}

std::string Request::field(const std::string& key) const {
  auto it = form_.find(key);
  return it == form_.end() ? "" : it->second;
}

std::vector<std::string> Request::fields(const std::string& key) const {
  std::vector<std::string> out;
  auto [lo, hi] = form_.equal_range(key);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

bool Request::parse_form() {
  SoupMessageHeaders* h = soup_server_message_get_request_headers(msg_);
  GBytes* body = soup_message_body_flatten(soup_server_message_get_request_body(msg_));
  const char* type = soup_message_headers_get_content_type(h, nullptr);
  bool ok = false;
  if (type != nullptr && std::string_view(type) == "application/x-www-form-urlencoded") {
    gsize n = 0;
    const auto* data = static_cast<const char*>(g_bytes_get_data(body, &n));
    std::string text(data != nullptr ? data : "", n);
    GHashTable* t = soup_form_decode(text.c_str());
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v))
      form_.emplace(static_cast<const char*>(k), static_cast<const char*>(v));
    g_hash_table_destroy(t);
    // soup_form_decode keeps one value per name; checkboxes repeat theirs.
    if (form_.count("agent") != 0) {
      form_.erase("agent");
      // (Split by hand: clang 14 cannot compile libstdc++ 12's views::split; the fuzz build
      // uses clang.)
      gchar** parts = g_strsplit(text.c_str(), "&", -1);
      for (gchar** part = parts; *part != nullptr; ++part) {
        if (!g_str_has_prefix(*part, "agent=")) continue;
        char* un = g_uri_unescape_string(*part + 6, nullptr);
        if (un != nullptr) form_.emplace("agent", un);
        g_free(un);
      }
      g_strfreev(parts);
    }
    ok = true;
  } else if (SoupMultipart* mp = soup_multipart_new_from_message(h, body); mp != nullptr) {
    for (int i = 0; i < soup_multipart_get_length(mp); ++i) {
      SoupMessageHeaders* ph = nullptr;
      GBytes* pb = nullptr;
      if (!soup_multipart_get_part(mp, i, &ph, &pb)) continue;
      char* disposition = nullptr;
      GHashTable* params = nullptr;
      if (!soup_message_headers_get_content_disposition(ph, &disposition, &params)) continue;
      const char* name = static_cast<const char*>(g_hash_table_lookup(params, "name"));
      const char* filename = static_cast<const char*>(g_hash_table_lookup(params, "filename"));
      gsize n = 0;
      const auto* data = static_cast<const char*>(g_bytes_get_data(pb, &n));
      std::string value(data != nullptr ? data : "", n);
      if (name != nullptr) {
        if (filename != nullptr)
          files_.push_back({name, filename, std::move(value)});
        else
          form_.emplace(name, std::move(value));
      }
      g_free(disposition);
      g_hash_table_destroy(params);
    }
    soup_multipart_free(mp);
    ok = true;
  }
  g_bytes_unref(body);
  return ok;
}

void Request::send(int status, const std::string& content_type, const std::string& body) {
  if (answered_) return;
  answered_ = true;
  soup_server_message_set_status(msg_, static_cast<guint>(status), nullptr);
  security_headers(msg_);
  soup_server_message_set_response(msg_, content_type.c_str(), SOUP_MEMORY_COPY, body.data(),
                                   body.size());
  if (paused_) soup_server_message_unpause(msg_);
}

void Request::html(int status, const std::string& body) {
  send(status, "text/html; charset=utf-8", body);
}

void Request::redirect(const std::string& location) {
  if (answered_) return;
  answered_ = true;
  soup_server_message_set_redirect(msg_, SOUP_STATUS_SEE_OTHER, location.c_str());
  security_headers(msg_);
  if (paused_) soup_server_message_unpause(msg_);
}

void Request::error(int status, const std::string& message) {
  html(status, page_begin(fmt::format("Error {}", status), "") + "<p class=\"error\">" +
                   esc(message) + "</p>" + page_end());
}

// ---- Server ---------------------------------------------------------------------------------

Server::Server(App& app) : app_(app) {
  server_ = soup_server_new("server-header", "jobline-web", nullptr);
  if (!app_.web.password.empty()) {
    auth_ = soup_auth_domain_basic_new("realm", "jobline", nullptr);
    soup_auth_domain_basic_set_auth_callback(auth_, check_password, &app_, nullptr);
    soup_auth_domain_add_path(auth_, "/");
    soup_server_add_auth_domain(server_, auth_);
  }
  g_signal_connect(server_, "request-started", G_CALLBACK(on_request_started), this);
  soup_server_add_handler(server_, nullptr, on_request, this, nullptr);
}

Server::~Server() {
  if (auth_ != nullptr) g_object_unref(auth_);
  soup_server_disconnect(server_);
  g_object_unref(server_);
}

std::string Server::listen(int port) {
  std::string address = app_.web.listen == "localhost" ? "127.0.0.1" : app_.web.listen;
  GInetAddress* ia = g_inet_address_new_from_string(address.c_str());
  if (ia == nullptr) throw std::runtime_error(fmt::format("'{}' is not an IP address", address));
  GSocketAddress* sa = g_inet_socket_address_new(ia, static_cast<guint16>(port));
  g_object_unref(ia);
  GError* err = nullptr;
  gboolean ok = soup_server_listen(server_, sa, static_cast<SoupServerListenOptions>(0), &err);
  g_object_unref(sa);
  if (!ok) {
    std::string why = err->message;
    g_error_free(err);
    throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", address, port, why));
  }
  GSList* uris = soup_server_get_uris(server_);
  std::string url;
  if (uris != nullptr) {
    auto* uri = static_cast<GUri*>(uris->data);
    url = fmt::format("http://{}:{}/",
                      address.find(':') != std::string::npos ? "[" + address + "]" : address,
                      g_uri_get_port(uri));
  }
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  return url;
}

void Server::on_request_started(SoupServer*, SoupServerMessage* msg, gpointer self) {
  g_signal_connect(msg, "got-headers", G_CALLBACK(got_headers), &static_cast<Server*>(self)->app_);
}

void Server::on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable* query,
                        gpointer self) {
  auto* s = static_cast<Server*>(self);
  if (soup_server_message_get_status(msg) != 0) return;  // refused in got-headers (size)
  auto req = std::make_shared<Request>(msg, path, query);
  s->route(req);
  if (!req->answered()) {
    req->set_paused();
    soup_server_message_pause(msg);
  }
}

void Server::route(const RequestPtr& req) {
  const std::string& p = req->path();
  const std::string& m = req->method();
  if (m == "POST") {
    if (!req->parse_form()) return req->error(400, "the request body is not a form");
    if (req->field("csrf").empty() || !same_secret(req->field("csrf"), app_.csrf))
      return req->error(403, "missing or wrong CSRF token: reload the page and try again");
    if (p == "/action") return post_action(app_, req);
    if (p == "/upload") return post_upload(app_, req);
    return req->error(404, "no such action");
  }
  if (m != "GET" && m != "HEAD") {
    soup_message_headers_replace(soup_server_message_get_response_headers(req->message()), "Allow",
                                 "GET, HEAD, POST");
    return req->error(405, "method not allowed");
  }
  if (p == "/") return req->redirect("/jobs");
  if (p == "/jobs") return page_jobs(app_, req);
  if (p.rfind("/job/", 0) == 0) {
    long long id = parse_id(p.substr(5));
    if (id == 0) return req->error(404, "no such job");
    return page_job(app_, req, id);
  }
  if (p == "/events") return app_.events->add(req);
  if (p == "/agents") return page_agents(app_, req);
  if (p == "/upload") return page_upload_form(app_, req);
  if (p.rfind("/upload/", 0) == 0) {
    long long id = parse_id(p.substr(8));
    if (id == 0) return req->error(404, "no such upload");
    return page_results(app_, req, id);
  }
  if (p == "/metrics") return page_metrics(app_, req);
  if (p.rfind("/static/", 0) == 0) {
    if (const Asset* a = asset(p.substr(8)))
      return req->send(200, std::string(a->content_type), std::string(a->body));
  }
  req->error(404, "no such page");
}

}  // namespace web
