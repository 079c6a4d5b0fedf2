// jobline-web: the web page of jobline (SPEC §11, docs/web.md). Reads the scheduler's conf dir
// and [web], connects to PostgreSQL without blocking, LISTENs on jobline_jobqueue and
// jobline_progress and serves HTTP with libsoup 3, all on one GLib main loop. Exit: 0 after
// TERM/INT, 1 when it cannot start (configuration, listen address), 2 for a usage error.
#include <glib.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "config.hpp"
#include "database.hpp"
#include "event_stream.hpp"
#include "server.hpp"
#include "web_config.hpp"

namespace po = boost::program_options;

namespace {

// 32 random bytes as hex, from the kernel.
std::string random_token() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char b[32] = {};
  in.read(reinterpret_cast<char*>(b), sizeof b);
  if (!in) throw std::runtime_error("cannot read /dev/urandom for the CSRF token");
  std::string out;
  for (unsigned char c : b) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "usage: jobline-web [-c DIR] [--db CONNINFO] [-p PORT]\n\n"
      "The web page of jobline: jobs (live), a job's steps and actions, agents and hosts, the\n"
      "upload form, an upload's results and /metrics. Reads [web] of DIR/scheduler.conf.\n\n"
      "options");
  desc.add_options()("help,h", "this text")("version", "print the version")(
      "config,c", po::value<std::string>(),
      "the conf dir (default: $JOBLINE_CONFIG, else the install's)")(
      "db", po::value<std::string>(), "libpq conninfo; overrides [database] and Db.conf")(
      "port,p", po::value<int>(), "TCP port; overrides [web] port (0: any free port)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "jobline-web: " << e.what() << "; see jobline-web --help\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\nenvironment:\n  JOBLINE_CONFIG  conf dir used when -c is not given\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "jobline-web (jobline) " << JOBLINE_VERSION << "\n";
    return 0;
  }
  std::string conf_dir = sched::default_conf_dir();
  if (const char* env = std::getenv("JOBLINE_CONFIG"); env != nullptr && *env != '\0')
    conf_dir = env;
  if (vm.count("config")) conf_dir = vm["config"].as<std::string>();
  int port = -1;
  if (vm.count("port")) {
    port = vm["port"].as<int>();
    if (port < 0 || port > 65535) {
      std::cerr << "jobline-web: --port: '" << port << "' is out of range; expected 0 to 65535\n";
      return 2;
    }
  }

  web::App app;
  try {
    app.config = sched::load_config(conf_dir);
    app.web = web::load_web_config(app.config.conf_dir);
    app.csrf = random_token();
  } catch (const std::exception& e) {
    std::cerr << "jobline-web: " << e.what() << "\n";
    return 1;
  }
  for (const auto& w : app.config.warnings)
    if (w.find("[web]") == std::string::npos) std::cerr << "jobline-web: warning: " << w << "\n";
  if (!web::is_loopback(app.web.listen) && app.web.password.empty()) {
    std::cerr << "jobline-web: " << app.config.conf_dir << "/scheduler.conf: [web] listen: '"
              << app.web.listen
              << "' is not a loopback address and no password is set; expected [web] password "
                 "(or listen = 127.0.0.1)\n";
    return 1;
  }
  app.conninfo = vm.count("db") ? vm["db"].as<std::string>() : app.config.conninfo;

  std::signal(SIGPIPE, SIG_IGN);
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  sched::Database db(app.conninfo);
  if (std::string bad = db.conninfo_error(); !bad.empty()) {
    std::cerr << "jobline-web: database: " << bad << "\n";
    return 1;
  }
  web::EventStream events(app);
  app.db = &db;
  app.events = &events;
  db.listen("jobline_jobqueue", [&](const std::string& payload) { events.notify(payload); });
  db.listen("jobline_progress", [&](const std::string& payload) { events.notify(payload); });
  db.keep_connected({[&](const std::string& why) {
                       std::cerr << "jobline-web: database " << db.target()
                                 << " unreachable: " << why << "\n";
                     },
                     [&](sched::Clock::duration) { events.resync(); }});
  db.connect_async();

  web::Server server(app);
  try {
    std::string url = server.listen(port >= 0 ? port : app.web.port);
    std::cout << "jobline-web: listening on " << url << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "jobline-web: " << e.what() << "\n";
    return 1;
  }
  auto quit = [loop] { g_main_loop_quit(loop); };
  sched::Source term = sched::Source::unix_signal(SIGTERM, quit);
  sched::Source intr = sched::Source::unix_signal(SIGINT, quit);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  return 0;
}
