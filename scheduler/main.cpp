// The scheduler daemon's entry point: options, configuration, the database, then one GLib
// main loop that owns everything (see scheduler.hpp). Only main maps outcomes to exit codes:
// 0 success, 1 a self-test failed, 2 usage, 3 configuration, 4 database, 5 already running.
#include <glib.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "config.hpp"
#include "database.hpp"
#include "interface.hpp"
#include "log.hpp"
#include "options.hpp"
#include "pidfile.hpp"
#include "queue_sql.hpp"
#include "recovery.hpp"
#include "scheduler.hpp"
#include "schema_install.hpp"
#include "self_test.hpp"

namespace {

using namespace sched;

enum Exit { kOk = 0, kSelfTestFailed = 1, kUsage = 2, kConfig = 3, kDatabase = 4, kRunning = 5 };

int init_db(const std::string& conninfo) {
  try {
    auto r = jobline::schema::install(conninfo);
    if (!r.changed()) {
      std::cout << "schema is up to date (version " << r.to_version << "): nothing changed\n";
    } else {
      std::cout << "schema upgraded from version " << r.from_version << " to " << r.to_version
                << ":";
      for (const auto& m : r.applied) std::cout << " " << m;
      std::cout << "\n";
    }
    return kOk;
  } catch (const std::exception& e) {
    std::cerr << "scheduler: --init-db: " << e.what() << "\n";
    return kDatabase;
  }
}

// Runs every self-test on a loop of its own; prints one line per (type, host).
bool run_self_test(const std::shared_ptr<const Config>& config,
                   std::map<std::string, std::string>* invalid) {
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  std::vector<SelfTestResult> results;
  SelfTest test(config);
  test.run([&](std::vector<SelfTestResult> r) {
    results = std::move(r);
    g_main_loop_quit(loop);
  });
  if (!results.empty() || !config->agents.empty()) {
    if (results.empty()) g_main_loop_run(loop);
  }
  g_main_loop_unref(loop);
  bool all = true;
  for (const auto& r : results) {
    std::cout << r.line() << std::endl;
    if (!r.passed) {
      all = false;
      if (invalid) (*invalid)[r.type] = "self-test failed on " + r.host + ": " + r.reason;
    }
  }
  return all;
}

// SIGQUIT is not among GLib's unix signals: it arrives through a signalfd.
Source watch_sigquit(std::function<void()> fn) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGQUIT);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return {};
  return Source::watch_fd(fd, G_IO_IN, [fd, fn = std::move(fn)](GIOCondition) {
    signalfd_siginfo info;
    while (read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) fn();
    return true;
  });
}

struct Daemon {
  std::shared_ptr<const Config> config;
  Options options;
};

int serve(Daemon& d, Database& db) {
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  Scheduler scheduler(d.config, db);
  auto quit = [loop] { g_main_loop_quit(loop); };
  auto graceful = [&] {
    log::note("graceful stop: no new agents; waiting for {} running", scheduler.agents().size());
    scheduler.shutdown(false, quit);
  };
  Source term = Source::unix_signal(SIGTERM, graceful);
  Source intr = Source::unix_signal(SIGINT, graceful);
  Source hup = Source::unix_signal(SIGHUP, [&] {
    log::reopen();
    try {
      d.config = std::make_shared<const Config>(load_config(d.config->conf_dir));
      for (const auto& w : d.config->warnings) log::warning("{}", w);
      scheduler.reload(d.config);
      log::note("configuration reloaded from {}", d.config->conf_dir);
    } catch (const ConfigError& e) {
      log::error("reload failed, keeping the old configuration: {}", e.what());
    }
  });
  Source quit_src = watch_sigquit([&] {
    log::warning("QUIT: killing every agent");
    scheduler.shutdown(true, quit);
  });
  db.on_broken([](const std::string& why) { log::error("database connection lost: {}", why); });
  InterfaceActions actions{[] { raise(SIGHUP); }, graceful,
                           [&] {
                             log::warning("die: killing every agent");
                             scheduler.shutdown(true, quit);
                           },
                           d.options.daemon};
  Interface control(scheduler, actions);
  try {
    control.listen(d.config->listen, d.config->port, d.config->socket);
  } catch (const std::exception& e) {
    log::fatal("{}", e.what());
    g_main_loop_unref(loop);
    return kRunning;
  }
  scheduler.start();
  log::note("scheduler started, pid {}, conf {}", getpid(), d.config->conf_dir);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  log::note("scheduler stopped");
  return kOk;
}

int run(Daemon& d) {
  const Config& config = *d.config;
  std::string conninfo = d.options.db ? *d.options.db : config.conninfo;
  if (d.options.init_db) return init_db(conninfo);
  if (d.options.test) return run_self_test(d.config, nullptr) ? kOk : kSelfTestFailed;
  std::map<std::string, std::string> invalid;
  if (d.options.test_then_run && !run_self_test(d.config, &invalid)) return kSelfTestFailed;
  if (d.options.daemon && daemon(0, 0) != 0) {
    log::fatal("cannot become a daemon: {}", strerror(errno));
    return kConfig;
  }
  std::unique_ptr<Pidfile> pidfile;
  try {
    if (!d.options.pidfile.empty()) pidfile = std::make_unique<Pidfile>(d.options.pidfile);
  } catch (const std::exception& e) {
    log::fatal("{}", e.what());
    return kRunning;
  }
  Database db(conninfo);
  try {
    db.connect();
    auto lock = db.exec_blocking(sql::kTryLock);
    if (!lock.ok()) throw std::runtime_error(lock.error());
    if (lock.get(0, 0) != "t") {
      log::fatal("another scheduler is running on this database; refusing to start");
      return kRunning;
    }
    recover_steps(db, config, d.options.reset);
  } catch (const std::exception& e) {
    log::fatal("{}", e.what());
    return kDatabase;
  }
  return serve(d, db);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t quit;
  sigemptyset(&quit);
  sigaddset(&quit, SIGQUIT);
  sigprocmask(SIG_BLOCK, &quit, nullptr);  // delivered through a signalfd (before any thread)

  Daemon d;
  try {
    d.options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "scheduler: " << e.what() << "\nTry 'scheduler --help' for more information.\n";
    return kUsage;
  }
  if (d.options.help) {
    std::cout << d.options.help_text;
    return kOk;
  }
  if (d.options.version) {
    std::cout << version_text() << "\n";
    return kOk;
  }
  if (d.options.init_db && d.options.db) return init_db(*d.options.db);  // needs no conf dir
  try {
    d.config = std::make_shared<const Config>(load_config(d.options.config_dir));
    const std::string& target = d.options.log ? *d.options.log : d.config->log;
    if (!target.empty() && !d.options.init_db) log::open(target);
  } catch (const std::exception& e) {
    std::cerr << "scheduler: " << e.what() << "\n";
    return kConfig;
  }
  log::set_verbose(d.options.verbose);
  for (const auto& w : d.config->warnings) log::warning("{}", w);
  if (d.options.port) {
    auto c = std::make_shared<Config>(*d.config);
    c->port = *d.options.port;
    d.config = c;
  }
  return run(d);
}
