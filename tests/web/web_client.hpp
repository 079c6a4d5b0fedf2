// Test helpers for jobline-web: a WebServer (a real scheduler via SchedulerHarness and a real
// jobline-web process on a free port) and a minimal HTTP/1.1 client on plain sockets, so that
// tests can send exactly the bytes a hostile client would (no body after a large
// Content-Length, no CSRF token, ...).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "scheduler_harness.hpp"
#include "support.hpp"

namespace webtest {

struct Response {
  int status = 0;
  std::string head, body;
  std::string header(const std::string& name) const;  // "" when absent (case-insensitive)
};

// Sends `raw` to 127.0.0.1:port and reads until the server closes (at most `timeout`).
Response http(int port, const std::string& raw,
              std::chrono::milliseconds timeout = std::chrono::seconds(20));
Response get(int port, const std::string& path, const std::string& headers = "");
Response post(int port, const std::string& path, const std::string& body,
              const std::string& content_type = "application/x-www-form-urlencoded",
              const std::string& headers = "");
// Opens /events and reads until `needle` appears in the stream (true) or `timeout` (false);
// `stream` gets what was read.
class EventClient {
 public:
  explicit EventClient(int port, const std::string& headers = "");
  ~EventClient();
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                std::string* stream = nullptr);

 private:
  int fd_ = -1;
  std::string buffer_;
};

std::string url_encode(const std::string& text);
// The CSRF token of a page (the value of its hidden csrf field), or "".
std::string csrf_of(const std::string& page);

// A scheduler with agents that have plugins (unpack -> scan, hang) and a jobline-web on it.
class WebServer {
 public:
  // `web_group`: the lines of [web] (e.g. "upload_roots = /x\n").
  explicit WebServer(const std::string& web_group = "");
  // The same with the database in another cluster (a PrivateCluster's conninfo).
  WebServer(const std::string& web_group, const std::string& cluster_conninfo);
  ~WebServer();
  test::SchedulerHarness& harness() { return *h_; }
  test::TempDatabase& db() { return h_->db(); }
  int port() const { return port_; }
  const std::string& root() const { return root_.path(); }  // an upload root (in [web])
  // Starts jobline-web with extra arguments; returns false (and its output) when it exits.
  void start_web(std::vector<std::string> extra = {});
  std::string csrf();  // from the jobs page

 private:
  test::TempDir root_;
  std::unique_ptr<test::SchedulerHarness> h_;
  std::unique_ptr<test::Child> web_;
  int port_ = 0;
};

}  // namespace webtest
