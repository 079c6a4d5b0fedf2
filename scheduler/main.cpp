// The scheduler daemon's entry point: options, configuration, the database (waited for, up to
// --db-wait, then kept connected), then one GLib main loop that owns everything (see
// scheduler.hpp). Only main maps outcomes to exit codes:
// 0 success, 1 a self-test failed, 2 usage, 3 configuration, 4 database, 5 already running.
#include <glib.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "config.hpp"
#include "database.hpp"
#include "interface.hpp"
#include "log.hpp"
#include "options.hpp"
#include "pidfile.hpp"
#include "privileges.hpp"
#include "queue_sql.hpp"
#include "recovery.hpp"
#include "scheduler.hpp"
#include "schema_install.hpp"
#include "self_test.hpp"

namespace {
// Statements in flight at once on the queue connection (libpq pipeline mode).
constexpr std::size_t kQueuePipelineDepth = 64;

using namespace sched;

enum Exit { kOk = 0, kSelfTestFailed = 1, kUsage = 2, kConfig = 3, kDatabase = 4, kRunning = 5 };

// Connects `db` and keeps it connected from now on. A database that is not up yet is waited
// for, up to `wait` (0: one attempt), with one WARNING when the first attempt fails. Runs the
// loop's context itself (before the main loop exists). Returns "" once connected, else why
// not, on one line ending with where the conninfo came from (`source`).
std::string wait_for_database(Database& db, std::chrono::seconds wait, const std::string& source) {
  const std::string from = fmt::format(" (conninfo from {})", source);
  if (std::string bad = db.conninfo_error(); !bad.empty())  // waiting cannot help
    return "cannot use the database connection string: " + bad + from;
  bool done = false;
  db.keep_connected({[&](const std::string& why) {
                       if (wait.count() == 0) {
                         done = true;
                         return;
                       }
                       log::warning("waiting for the database at {}: {}; retrying for up to {} s",
                                    db.target(), why, wait.count());
                     },
                     [&](Clock::duration) { done = true; }});
  Source bound;  // 0: the first attempt decides
  if (wait.count() > 0) bound = Source::timer(wait, [&] { done = true; });
  db.connect_async();
  while (!done) g_main_context_iteration(nullptr, TRUE);
  db.keep_connected({});  // the callbacks above end here
  if (db.connected()) return "";
  std::string why = wait.count() == 0 ? fmt::format("cannot connect to the database at {}: {}",
                                                    db.target(), db.last_error())
                                      : fmt::format("no database at {} after {} s (--db-wait): {}",
                                                    db.target(), wait.count(), db.last_error());
  db.close();
  return why + from;
}

// `source` says where the conninfo came from ("--db", "<confdir>/Db.conf"...), for errors.
int init_db(const std::string& conninfo, const std::string& source, std::chrono::seconds wait) {
  {
    Database db(conninfo);
    if (std::string why = wait_for_database(db, wait, source); !why.empty()) {
      std::cerr << "scheduler: --init-db: " << why << "\n";
      return kDatabase;
    }
  }
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
    std::cerr << "scheduler: --init-db: " << e.what() << " (conninfo from " << source << ")\n";
    return kDatabase;
  }
}

// Why the database's schema cannot serve this scheduler, or "": none installed, or an older
// version than the migrations built in (the binaries were upgraded and `--init-db` not run yet).
// The queue's statements would fail on every poll; this says once, at start, what to run. A
// newer schema is accepted (migrations add, and `--init-db` refuses to go back).
std::string schema_too_old(Database& db) {
  auto installed = db.exec_blocking("SELECT to_regclass('jobline_schema') IS NOT NULL");
  if (installed.ok() && installed.get(0, 0) != "t")
    return "the database has no jobline schema: run 'scheduler --init-db' (docs/database.md)";
  auto r = db.exec_blocking("SELECT coalesce(max(version), 0) FROM jobline_schema");
  if (!r.ok()) return "cannot read the schema version: " + r.error();
  const long version = r.get_long(0, 0), needed = jobline::schema::latest_version();
  if (version < needed)
    return fmt::format(
        "the database's schema is version {}, this scheduler needs version {}: run 'scheduler "
        "--init-db' to upgrade it (docs/database.md)",
        version, needed);
  return "";
}

// The agent types whose self-test failed, with the reason their steps will fail with.
std::map<std::string, std::string> invalid_types(const std::vector<SelfTestResult>& results) {
  std::map<std::string, std::string> invalid;
  for (const auto& r : results)
    if (!r.passed) invalid[r.type] = "self-test failed on " + r.host + ": " + r.reason;
  return invalid;
}

// Runs every self-test on a loop of its own; prints one line per (type, host).
bool run_self_test(const std::shared_ptr<const Config>& config) {
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  std::vector<SelfTestResult> results;
  bool done = false;
  SelfTest test(config);
  // A probe may take as long as a step would (a NOKILL agent): TERM and INT end the test, the
  // probes still running are killed and fail.
  Source term = Source::unix_signal(SIGTERM, [&] { test.stop("self-test stopped by SIGTERM"); });
  Source intr = Source::unix_signal(SIGINT, [&] { test.stop("self-test stopped by SIGINT"); });
  test.run([&](std::vector<SelfTestResult> r) {
    results = std::move(r);
    done = true;
    g_main_loop_quit(loop);
  });
  if (!done) g_main_loop_run(loop);
  g_main_loop_unref(loop);
  for (const auto& r : results) std::cout << r.line() << std::endl;
  return invalid_types(results).empty();
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
  std::optional<RunAs> run_as;  // --user / [scheduler] user, when started as root
};

// The configuration with the command line's overrides applied.
std::shared_ptr<const Config> configured(Config config, const Options& options) {
  if (options.port) config.port = *options.port;
  return std::make_shared<const Config>(std::move(config));
}

// The result of sql::kPlanner. Not fatal: without it a poll only costs more while jobqueue has
// no statistics.
void check_planner(const QueryResult& r) {
  if (!r.ok() && !r.connection_lost())
    log::warning("cannot apply the scheduler's planner settings ({}): {}", sql::kPlanner,
                 r.error());
}

// The running daemon: the loop, the scheduler, its signals and its control interface.
class Service {
 public:
  Service(Daemon& d, Database& db) : d_(d), db_(db), scheduler_(d.config, db) {}
  ~Service() { g_main_loop_unref(loop_); }

  int run() {
    auto graceful = [this] { stop(false); };
    Source term = Source::unix_signal(SIGTERM, graceful);
    Source intr = Source::unix_signal(SIGINT, graceful);
    Source hup = Source::unix_signal(SIGHUP, [this] { reload(); });
    Source quit = watch_sigquit([this] { stop(true); });
    db_.keep_connected({[](const std::string& why) { database_lost(why); },
                        [this](Clock::duration outage) { database_up(outage); }});
    db_.on_reconnect(sql::kTryLock, [this](const QueryResult& r) { check_lock(r); });
    db_.on_reconnect(sql::kPlanner, [](const QueryResult& r) { check_planner(r); });
    Interface control(scheduler_, db_,
                      {[this] { reload(); }, graceful, [this] { stop(true); }, d_.options.daemon});
    try {
      control.listen(d_.config->listen, d_.config->port, d_.config->socket);
    } catch (const ListenConfigError& e) {
      log::fatal("{}: [scheduler] socket: {}", d_.config->conf_dir + "/scheduler.conf", e.what());
      return kConfig;
    } catch (const std::exception& e) {
      log::fatal("{}", e.what());
      return kRunning;
    }
    if (d_.run_as) {
      try {
        become(*d_.run_as, control);
      } catch (const std::exception& e) {
        log::fatal("cannot become user {}: {}", d_.run_as->name, e.what());
        return kConfig;
      }
    }
    scheduler_.start();
    log::note("scheduler started, pid {}, conf {}", getpid(), d_.config->conf_dir);
    g_main_loop_run(loop_);
    log::note("scheduler stopped");
    return exit_code_;
  }

 private:
  // The sockets are bound and the log is open: what the scheduler writes from now on (the
  // socket, its directory when it made it, the log file, <log_dir>/jobs) goes to the user,
  // then the scheduler becomes it.
  void become(const RunAs& who, const Interface& control) {
    control.chown_socket(who.uid, who.gid);
    std::vector<std::string> paths;
    const std::string& target = log::target();
    if (!target.empty() && target != "stdout" && target != "stderr") paths.push_back(target);
    // <log_dir>/jobs, and <log_dir> when it is made here (an existing one stays as it is: it
    // must let the user through).
    const std::string& dir = d_.config->log_dir;
    if (!g_file_test(dir.c_str(), G_FILE_TEST_EXISTS)) {
      g_mkdir_with_parents(dir.c_str(), 0750);
      paths.push_back(dir);
    }
    std::string jobs = dir + "/jobs";
    g_mkdir_with_parents(jobs.c_str(), 0750);
    paths.push_back(jobs);
    drop_privileges(who, paths);
    log::note("running as user {} (uid {} gid {})", who.name, who.uid, who.gid);
  }

  static void database_lost(const std::string& why) {
    log::error(
        "database connection lost: {}; reconnecting (agents keep running, their state changes "
        "wait)",
        why);
  }

  void database_up(Clock::duration outage) {
    using seconds = std::chrono::duration<double>;
    log::warning("database connection back after {:.1f} s; sending what waited, reading the queue",
                 std::chrono::duration_cast<seconds>(outage).count());
    scheduler_.database_back();
  }

  // The scheduler's advisory lock went with the old connection. If another scheduler holds it
  // now, that one has requeued this one's started steps (recovery): this one writes nothing
  // more, and its agents are killed when it exits (their steps are the other's now).
  void check_lock(const QueryResult& r) {
    if (r.ok() && r.rows() > 0 && r.get(0, 0) == "t") return;
    if (!r.ok()) {
      log::fatal("cannot take the scheduler's lock again after reconnecting: {}", r.error());
      exit_code_ = kDatabase;
    } else {
      log::fatal(
          "another scheduler took this database while the connection was lost; stopping "
          "without writing anything more, and killing this scheduler's agents");
      exit_code_ = kRunning;
    }
    db_.close();
    g_main_loop_quit(loop_);
  }

  void stop(bool force) {
    if (force)
      log::warning("QUIT: killing every agent");
    else
      log::note("graceful stop: nothing new starts; waiting for running agents");
    scheduler_.shutdown(force, [this] { g_main_loop_quit(loop_); });
  }

  // HUP: a new configuration (a bad one is logged and the old one kept), the log reopened.
  void reload() {
    log::reopen();
    try {
      auto config = configured(load_config(d_.config->conf_dir), d_.options);
      check_listen(*config);  // (auth_token may have gone)
      d_.config = std::move(config);
    } catch (const ConfigError& e) {
      log::error("reload failed, keeping the old configuration: {}", e.what());
      return;
    }
    for (const auto& w : d_.config->warnings) log::warning("{}", w);
    scheduler_.reload(d_.config);
    log::note("configuration reloaded from {}", d_.config->conf_dir);
    if (d_.options.test_then_run) retest();
  }

  // -T: the new configuration is tested; types that fail are invalid until the next reload.
  void retest() {
    if (retest_) {
      log::warning("reload: the previous self-test is still running; not testing again");
      return;
    }
    retest_ = std::make_unique<SelfTest>(d_.config);
    retest_->run([this](std::vector<SelfTestResult> results) {
      for (const auto& r : results) {
        if (r.passed)
          log::note("self-test: {}", r.line());
        else
          log::error("self-test: {}", r.line());
      }
      scheduler_.set_invalid(invalid_types(results));
      // Not destroyed from inside its own callback.
      retest_done_ = Source::timer(std::chrono::milliseconds(0), [this] { retest_.reset(); });
    });
  }

  Daemon& d_;
  Database& db_;
  GMainLoop* loop_ = g_main_loop_new(nullptr, FALSE);
  Scheduler scheduler_;
  std::unique_ptr<SelfTest> retest_;
  Source retest_done_;
  int exit_code_ = kOk;
};

// --user / [scheduler] user: looked up now (a missing user stops the start), used once the
// sockets are bound (Service::become). Not root: nothing to drop, a warning.
int choose_user(Daemon& d) {
  const Config& c = *d.config;
  std::string name = d.options.user ? *d.options.user : c.user;
  if (name.empty() || d.options.test) return kOk;
  std::string from = d.options.user ? "--user" : c.user_where + ": [scheduler] user";
  if (geteuid() != 0) {
    log::warning("{}: '{}' ignored: the scheduler is not running as root (uid {})", from, name,
                 geteuid());
    return kOk;
  }
  d.run_as = find_user(name);
  if (!d.run_as) {
    std::cerr << "scheduler: " << from << ": no user '" << name
              << "' on this system; expected an existing user name\n";
    return d.options.user ? kUsage : kConfig;
  }
  return kOk;
}

int run(Daemon& d) {
  const Config& config = *d.config;
  std::string conninfo = d.options.db ? *d.options.db : config.conninfo;
  std::chrono::seconds wait(d.options.db_wait);
  if (d.options.init_db) return init_db(conninfo, config.conninfo_source, wait);
  if (d.options.test) return run_self_test(d.config) ? kOk : kSelfTestFailed;
  if (d.options.test_then_run && !run_self_test(d.config)) return kSelfTestFailed;
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
  // The scheduler's writes (starts, ends, counts) and polls go out back to back, never one
  // round trip each (docs/architecture.md).
  db.pipeline(kQueuePipelineDepth);
  if (std::string why = wait_for_database(db, wait, d.options.db ? "--db" : config.conninfo_source);
      !why.empty()) {
    log::fatal("{}", why);
    return kDatabase;
  }
  try {
    auto lock = db.exec_blocking(sql::kTryLock);
    if (!lock.ok()) throw std::runtime_error(lock.error());
    if (lock.get(0, 0) != "t") {
      log::fatal("another scheduler is running on this database; refusing to start");
      return kRunning;
    }
    check_planner(db.exec_blocking(sql::kPlanner));
    if (std::string why = schema_too_old(db); !why.empty()) {
      log::fatal("{}", why);
      return kDatabase;
    }
    recover_steps(db, config, d.options.reset);
  } catch (const std::exception& e) {
    log::fatal("{}", e.what());
    return kDatabase;
  }
  return Service(d, db).run();
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
    std::cout << d.options.help_text
              << "\nExit status:\n"
                 "  0 success, 1 a self-test failed, 2 usage error, 3 configuration error,\n"
                 "  4 database error, 5 already running (pidfile, database lock or control\n"
                 "  socket/port taken)\n";
    return kOk;
  }
  if (d.options.version) {
    std::cout << version_text() << "\n";
    return kOk;
  }
  if (d.options.init_db && d.options.db)  // needs no conf dir
    return init_db(*d.options.db, "--db", std::chrono::seconds(d.options.db_wait));
  try {
    d.config = configured(load_config(d.options.config_dir), d.options);
    if (!d.options.init_db) check_listen(*d.config);
    const std::string& target = d.options.log ? *d.options.log : d.config->log;
    if (!target.empty() && !d.options.init_db) log::open(target);
  } catch (const log::LogError& e) {
    std::cerr << "scheduler: "
              << (d.options.log ? "--log" : d.config->conf_dir + "/scheduler.conf: [scheduler] log")
              << ": " << e.what() << "\n";
    return kConfig;
  } catch (const std::exception& e) {
    std::cerr << "scheduler: " << e.what() << "\n";
    return kConfig;
  }
  log::set_verbose(d.options.verbose);
  for (const auto& w : d.config->warnings) log::warning("{}", w);
  if (!d.options.init_db)
    if (int rc = choose_user(d); rc != kOk) return rc;
  return run(d);
}
