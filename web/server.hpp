// The HTTP side of jobline-web: App (what every page works with: the configuration, the one
// asynchronous database connection, the CSRF token, the event stream), Request (one HTTP
// exchange, answered now or later from a database callback: libsoup pauses it meanwhile) and
// Server (the SoupServer: listening, password, body limit, CSRF check, routing).
// Everything runs on the one GLib main loop of main().
#pragma once

#include <libsoup/soup.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "database.hpp"
#include "web_config.hpp"

namespace web {

class EventStream;

struct App {
  sched::Config config;
  WebConfig web;
  std::string conninfo;           // for blocking connections (queueing an upload)
  sched::Database* db = nullptr;  // pages' queries and the NOTIFY listener
  EventStream* events = nullptr;
  std::string csrf;  // random per process; every POST must carry it
};

struct UploadedFile {
  std::string field, filename, data;
};

class Request {
 public:
  Request(SoupServerMessage* msg, std::string path, GHashTable* query);
  ~Request();
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  const std::string& path() const { return path_; }
  const std::string& method() const { return method_; }
  // A query parameter ("" when absent).
  std::string query(const std::string& key) const;
  // Form fields of a POST (urlencoded or multipart); first value or "".
  std::string field(const std::string& key) const;
  std::vector<std::string> fields(const std::string& key) const;
  const std::vector<UploadedFile>& files() const { return files_; }
  // Parses the body; false when it is not a form.
  bool parse_form();

  void html(int status, const std::string& body);
  void send(int status, const std::string& content_type, const std::string& body);
  void redirect(const std::string& location);  // 303 See Other
  // An error page with `message` (escaped).
  void error(int status, const std::string& message);
  bool answered() const { return answered_; }
  SoupServerMessage* message() const { return msg_; }
  void set_paused() { paused_ = true; }
  // Hands the exchange over (the event stream answers it itself); the Request is done.
  SoupServerMessage* take() {
    answered_ = true;
    return msg_;
  }

 private:
  SoupServerMessage* msg_;
  std::string path_, method_;
  std::map<std::string, std::string> query_;
  std::multimap<std::string, std::string> form_;
  std::vector<UploadedFile> files_;
  bool answered_ = false, paused_ = false;
};
using RequestPtr = std::shared_ptr<Request>;

// Adds the headers every answer gets (CSP without inline script, no framing, no sniffing).
void security_headers(SoupServerMessage* msg);

class Server {
 public:
  explicit Server(App& app);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Listens on [web] listen and `port` (0 = any free port); returns the base URL. Throws
  // std::runtime_error naming the address.
  std::string listen(int port);

 private:
  static void on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable* query,
                         gpointer self);
  static void on_request_started(SoupServer*, SoupServerMessage* msg, gpointer self);
  void route(const RequestPtr& req);

  App& app_;
  SoupServer* server_ = nullptr;
  SoupAuthDomain* auth_ = nullptr;
};

// Pages (pages_*.cpp, metrics.cpp). Each answers `req` now or from a database callback.
void page_jobs(App& app, const RequestPtr& req);
void page_job(App& app, const RequestPtr& req, long long job);
void post_action(App& app, const RequestPtr& req);
void page_agents(App& app, const RequestPtr& req);
void page_upload_form(App& app, const RequestPtr& req);
void post_upload(App& app, const RequestPtr& req);
void page_results(App& app, const RequestPtr& req, long long upload);
void page_metrics(App& app, const RequestPtr& req);

// How long an action, the agents page and /metrics wait for the scheduler's control interface
// (asynchronously: the loop goes on meanwhile).
inline constexpr std::chrono::seconds kControlTimeout{3};

// A positive decimal id from a URL or form field; 0 when `text` is not one.
long long parse_id(const std::string& text);

}  // namespace web
