static const char kUsage[] =
    R"(fake_agent: an agent that misbehaves on command, for the scheduler's tests.
It speaks the protocol by hand (raw write(2) calls, no libagent), so it can get it wrong.

usage: fake_agent [scheduler options] [--mode=BEHAVIOUR] [modifiers...]
  Scheduler options are accepted and ignored: --scheduler_start --jobId=N --jqId=N
  --config=DIR --userID=N --groupID=N. `--mode=X[=V]` is the same as `--X[=V]`.

Behaviours (the last one given wins; default ok):
  --ok            OK; for each data line: [work], ItemsProcessed 1, OK; exit 0 at stdin EOF
  --no-ok         never says OK; sleeps forever
  --hang          OK, then hangs forever without output
  --no-heartbeat  OK, takes one data line, then silent forever (stops --heartbeat-ms too)
  --exit-early    OK, takes one data line, exits 0 without acknowledging it
  --fatal         OK, takes one data line, writes `FATAL: something broke`, exits 0
  --ignore-term   SIGTERM ignored, then like --hang
  --grandchild    forks a grandchild that sleeps forever in the same process group and keeps
                  the inherited stdin/stdout/stderr, writes `LOG grandchild <pid>`, then
                  behaves as --then=ok|hang (default hang)
  --fossology     FOSSology dialect: `VERSION: fake`, blank, `OK`; processes data lines; on
                  END writes blank + `OK`; on CLOSE (or EOF) `HEART: <n> 1`, blank, `BYE <rc>`
                  and exits rc. --bye=N sets rc (default 0); --no-bye exits 0 without BYE.
                  --heartbeat-ms writes `HEART: <n> 1` instead of Heartbeat.
                  --before-version=TEXT writes TEXT (no '\n') before `VERSION:`, as FOSSology's
                  before_connect test agent does with printf; --nokill writes `SPECIAL: 1 1`
                  after the first OK; --bye-first writes `BYE <rc>` instead of the first OK
                  and exits rc.
Modifiers (combine with ok and fossology; most with the others too):
  --work-ms=N       sleep N ms per data line before acknowledging it
  --wait-file=FILE  after --work-ms, wait until FILE exists before acknowledging each data
                    line (checked every 10 ms): the test says when the line is done
  --crash-after=N   process N data lines; on the next one die of SIGSEGV (no core file)
  --crash=segv|abort  how --crash-after dies (default segv)
  --crash-once=FILE on the first data line, if FILE does not exist: create it, record the line
                    (--record), then die as --crash says; an agent started later with the same
                    FILE works normally (a crash the first time only)
  --exit-code=N     process everything, then exit N instead of 0
  --exit-delay-ms=N at the end of data (stdin EOF or CLOSE), wait N ms before finishing (silent
                    unless --heartbeat-ms)
  --at-end=fatal|crash|garbage  at the end of data (after --exit-delay-ms): write
                    `FATAL: something broke` and exit 0 / die as --crash says / write what
                    --garbage writes (a 100 KiB line among them), then finish as usual
  --garbage         before each OK but the first: three lines of random bytes and one line of
                    100 KiB (first byte >= 0x80, no '\n' inside), then go on correctly
  --print-fds       first of all, write `LOG fds: <open fds from /proc/self/fd>`
  --print-env       first of all, write `LOG env: NAME=VALUE` per environment variable and
                    `LOG argv: <the arguments, space-separated>`
  --flood=N         write N lines `LOG flood <i>` as fast as possible before every OK
  --heartbeat-ms=N  a thread writes `Heartbeat` every N ms (one mutex: lines never interleave)
  --window=N        write `WINDOW N` before the first OK
  --db=SQL          after the first OK write `DB: SQL`, then log every reply line up to DBEOF or
                    DBERROR as `LOG db: <line>` (data lines arriving first are kept)
  --record=FILE     append `<pid> <data line>` to FILE for each line processed (O_APPEND, one
                    write(2) per line)
  --help            this text
Exit codes: 0 (or --exit-code / --bye), 64 for a bad option.
)";
// Built at ${CMAKE_BINARY_DIR}/tests/agents/fake_agent/fake_agent (agentdir tests/agents).
// Globals: this is a throwaway test program; one process, one output mutex.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string mode = "ok";
  std::string then = "hang";
  long work_ms = 0;
  std::string wait_file;
  long crash_after = -1;
  std::string crash_once;
  std::string crash = "segv";
  long exit_code = 0;
  bool garbage = false;
  bool print_fds = false;
  bool print_env = false;
  long flood = 0;
  long heartbeat_ms = 0;
  long window = 0;
  std::string db;
  std::string record;
  long bye = 0;
  bool no_bye = false;
  std::string before_version;
  bool nokill = false;
  bool bye_first = false;
  long exit_delay_ms = 0;
  std::string at_end;
};

std::mutex g_out;
std::atomic<bool> g_beating{true};
std::atomic<std::uint64_t> g_items{0};
std::deque<std::string> g_pending;  // data lines read while waiting for a DB: reply
int g_record_fd = -1;

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "fake_agent: %s (see --help)\n", what.c_str());
  _exit(64);
}

// Writes bytes with one lock held, looping over partial writes. A vanished reader kills us
// with SIGPIPE (default disposition), like a careless agent.
void write_all(std::string_view bytes) {
  std::lock_guard lock(g_out);
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void out(std::string_view line) {
  write_all(std::string(line) + "\n");
}

[[noreturn]] void forever() {
  for (;;) ::pause();
}

long number(std::string_view name, std::string_view text) {
  long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    usage_error("--" + std::string(name) + ": '" + std::string(text) + "' is not a number");
  }
  return value;
}

bool is_behaviour(std::string_view name) {
  static const char* const kBehaviours[] = {"ok",           "no-ok",      "hang",
                                            "no-heartbeat", "exit-early", "fatal",
                                            "ignore-term",  "grandchild", "fossology"};
  return std::any_of(std::begin(kBehaviours), std::end(kBehaviours),
                     [&](const char* b) { return name == b; });
}

// Applies one `name[=value]` option; false when the name is unknown.
bool apply(Options& o, std::string_view name, std::string_view value) {
  if (is_behaviour(name))
    o.mode = std::string(name);
  else if (name == "then")
    o.then = std::string(value);
  else if (name == "work-ms")
    o.work_ms = number(name, value);
  else if (name == "wait-file")
    o.wait_file = std::string(value);
  else if (name == "crash-after")
    o.crash_after = number(name, value);
  else if (name == "crash-once")
    o.crash_once = std::string(value);
  else if (name == "crash")
    o.crash = std::string(value);
  else if (name == "exit-code")
    o.exit_code = number(name, value);
  else if (name == "garbage")
    o.garbage = true;
  else if (name == "print-fds")
    o.print_fds = true;
  else if (name == "print-env")
    o.print_env = true;
  else if (name == "flood")
    o.flood = number(name, value);
  else if (name == "heartbeat-ms")
    o.heartbeat_ms = number(name, value);
  else if (name == "window")
    o.window = number(name, value);
  else if (name == "db")
    o.db = std::string(value);
  else if (name == "record")
    o.record = std::string(value);
  else if (name == "bye")
    o.bye = number(name, value);
  else if (name == "no-bye")
    o.no_bye = true;
  else if (name == "before-version")
    o.before_version = std::string(value);
  else if (name == "nokill")
    o.nokill = true;
  else if (name == "bye-first")
    o.bye_first = true;
  else if (name == "exit-delay-ms")
    o.exit_delay_ms = number(name, value);
  else if (name == "at-end")
    o.at_end = std::string(value);
  else
    return false;
  return true;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help") {
      std::fputs(kUsage, stdout);
      _exit(0);
    }
    if (arg.substr(0, 2) != "--") usage_error("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    const auto eq = arg.find('=');
    std::string_view name = arg.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (name == "scheduler_start" || name == "jobId" || name == "jqId" || name == "config" ||
        name == "userID" || name == "groupID") {
      continue;
    }
    if (name == "mode") {  // --mode=X[=V] == --X[=V]
      const auto eq2 = value.find('=');
      name = value.substr(0, eq2);
      value = eq2 == std::string_view::npos ? "" : value.substr(eq2 + 1);
    }
    if (!apply(o, name, value)) usage_error("unknown option '--" + std::string(name) + "'");
  }
  if (o.then != "ok" && o.then != "hang") usage_error("--then must be ok or hang");
  if (o.crash != "segv" && o.crash != "abort") usage_error("--crash must be segv or abort");
  if (!o.at_end.empty() && o.at_end != "fatal" && o.at_end != "crash" && o.at_end != "garbage")
    usage_error("--at-end must be fatal, crash or garbage");
  return o;
}

std::optional<std::string> next_line() {
  if (!g_pending.empty()) {
    std::string line = std::move(g_pending.front());
    g_pending.pop_front();
    return line;
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

void start_heartbeat(long ms, bool fossology) {
  std::thread([ms, fossology] {
    while (g_beating.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (!g_beating.load()) break;
      if (fossology)
        out("HEART: " + std::to_string(g_items.load()) + " 1");
      else
        out("Heartbeat");
    }
  }).detach();
}

void print_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) usage_error("cannot open /proc/self/fd");
  std::vector<int> fds;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  std::sort(fds.begin(), fds.end());
  std::string line = "LOG fds:";
  for (int fd : fds) line += " " + std::to_string(fd);
  out(line);
}

void flood(const Options& o) {
  for (long i = 0; i < o.flood; ++i) out("LOG flood " + std::to_string(i));
}

std::string random_line(std::mt19937& rng, std::size_t size) {
  std::uniform_int_distribution<int> byte(1, 255);
  std::string line(size, '\x80');
  for (std::size_t i = 1; i < size; ++i) {
    int b = byte(rng);
    line[i] = static_cast<char>(b == '\n' ? ' ' : b);
  }
  line[0] = static_cast<char>(0x80 | (line[0] & 0x7f));
  return line;
}

void garbage() {
  static std::mt19937 rng(static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<std::size_t> len(1, 200);
  for (int i = 0; i < 3; ++i) out(random_line(rng, len(rng)));
  out(random_line(rng, 100 * 1024));
}

[[noreturn]] void crash(const Options& o) {
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  if (o.crash == "abort") std::abort();
  ::signal(SIGSEGV, SIG_DFL);
  ::raise(SIGSEGV);
  std::abort();
}

// Sends `DB: sql` and logs the reply; data lines that were already on their way are kept.
void ask_db(const std::string& sql) {
  out("DB: " + sql);
  bool started = false;
  std::string line;
  while (std::getline(std::cin, line)) {
    const bool reply = line == "DBSTART" || line == "DBEOF" || line.rfind("DBERROR", 0) == 0;
    if (!started && !reply) {
      g_pending.push_back(line);
      continue;
    }
    out("LOG db: " + line);
    if (line == "DBSTART") started = true;
    if (line == "DBEOF" || line.rfind("DBERROR", 0) == 0) return;
  }
}

// One data line: record it, do the "work", count it.
void process(const Options& o, const std::string& line) {
  if (o.crash_after >= 0 && static_cast<long>(g_items.load()) >= o.crash_after) crash(o);
  if (g_record_fd >= 0) {
    const std::string entry = std::to_string(::getpid()) + " " + line + "\n";
    if (::write(g_record_fd, entry.data(), entry.size()) < 0) _exit(4);
  }
  if (!o.crash_once.empty()) {
    const int fd = ::open(o.crash_once.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) crash(o);  // the first agent to get here
  }
  if (o.work_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.work_ms));
  while (!o.wait_file.empty() && ::access(o.wait_file.c_str(), F_OK) != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ++g_items;
}

// The end of the data: --exit-delay-ms, then --at-end.
void at_end(const Options& o) {
  if (o.exit_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.exit_delay_ms));
  if (o.at_end == "fatal") {
    out("FATAL: something broke");
    _exit(0);
  }
  if (o.at_end == "crash") crash(o);
  if (o.at_end == "garbage") garbage();
}

[[noreturn]] void run_fossology(const Options& o) {
  write_all(o.before_version);
  out("VERSION: fake");
  out("");
  if (o.bye_first) {
    out("BYE " + std::to_string(o.bye));
    _exit(static_cast<int>(o.bye));
  }
  out("OK");
  if (o.nokill) out("SPECIAL: 1 1");
  while (auto line = next_line()) {
    if (*line == "CLOSE") break;
    if (*line == "END") {
      out("");
      out("OK");
    } else if (line->rfind("VERBOSE", 0) != 0 && line->rfind("VALUE:", 0) != 0) {
      process(o, *line);
    }
  }
  at_end(o);
  out("HEART: " + std::to_string(g_items.load()) + " 1");
  out("");
  if (o.no_bye) _exit(0);
  out("BYE " + std::to_string(o.bye));
  _exit(static_cast<int>(o.bye));
}

void spawn_grandchild() {
  const pid_t pid = ::fork();
  if (pid < 0) usage_error("fork failed");
  if (pid == 0) forever();  // keeps every inherited fd, stays in our process group
  out("LOG grandchild " + std::to_string(pid));
}

void write_ok(const Options& o) {
  flood(o);
  out("OK");
}

[[noreturn]] void run_seed(Options o) {
  if (o.mode == "no-ok") forever();
  if (o.mode == "ignore-term") {
    ::signal(SIGTERM, SIG_IGN);
    o.mode = "hang";
  }
  if (o.window > 0) out("WINDOW " + std::to_string(o.window));
  write_ok(o);
  if (!o.db.empty()) ask_db(o.db);
  if (o.mode == "hang") forever();
  while (auto line = next_line()) {
    if (o.mode == "no-heartbeat") {
      g_beating = false;
      forever();
    }
    if (o.mode == "exit-early") _exit(0);
    if (o.mode == "fatal") {
      out("FATAL: something broke");
      _exit(0);
    }
    process(o, *line);
    out("ItemsProcessed 1");
    if (o.garbage) garbage();
    write_ok(o);
  }
  at_end(o);
  _exit(static_cast<int>(o.exit_code));
}

}  // namespace

// --print-env: what the agent inherited, one LOG line each (the tests look for secrets).
static void print_env(int argc, char** argv) {
  extern char** environ;
  for (char** e = environ; *e != nullptr; ++e) out(std::string("LOG env: ") + *e);
  std::string line = "LOG argv:";
  for (int i = 0; i < argc; ++i) line += std::string(" ") + argv[i];
  out(line);
}

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  if (o.print_fds) print_fds();  // only what we inherited
  if (o.print_env) print_env(argc, argv);
  if (!o.record.empty()) {
    g_record_fd = ::open(o.record.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (g_record_fd < 0) usage_error("cannot open --record file '" + o.record + "'");
  }
  if (o.mode == "grandchild") {
    spawn_grandchild();  // before any thread exists
    o.mode = o.then;
  }
  if (o.heartbeat_ms > 0) start_heartbeat(o.heartbeat_ms, o.mode == "fossology");
  if (o.mode == "fossology") run_fossology(o);
  run_seed(o);
}
