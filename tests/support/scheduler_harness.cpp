// SchedulerHarness: conf dir writing, the scheduler process, control commands and jobqueue
// accessors (see scheduler_harness.hpp).
#include "scheduler_harness.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "schema_install.hpp"

namespace test {

namespace {

using Clock = std::chrono::steady_clock;

// An SQL literal (standard_conforming_strings: only quotes are doubled).
std::string literal(const std::optional<std::string>& s) {
  if (!s) return "NULL";
  std::string out = "'";
  for (char c : *s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A TCP port nobody listens on now (bound to port 0, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string agent_conf_text(const AgentConf& a) {
  std::string text = "[default]\ncommand = " + a.command + "\n";
  text += fmt::format("max = {}\n", a.max);
  if (!a.special.empty()) text += "special = " + a.special + "\n";
  if (a.allow_db) text += "allow_db = true\n";
  if (!a.extra.empty()) text += a.extra + (a.extra.back() == '\n' ? "" : "\n");
  return text;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    throw std::runtime_error("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int remaining_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

}  // namespace

AgentConf fake_agent(const std::string& name, const std::string& args, int max,
                     const std::string& special) {
  AgentConf conf;
  conf.name = name;
  conf.command =
      build_dir() + "/tests/agents/fake_agent/fake_agent" + (args.empty() ? "" : " ") + args;
  conf.max = max;
  conf.special = special;
  return conf;
}

SchedulerHarness::SchedulerHarness(SchedulerSettings settings)
    : SchedulerHarness(std::move(settings), cluster_conninfo()) {}

SchedulerHarness::SchedulerHarness(SchedulerSettings settings, const std::string& cluster)
    : settings_(std::move(settings)), db_(cluster), log_path_(conf_.path() + "/scheduler.log") {
  jobline::schema::install(db_.conninfo());
  port_ = free_port();
  write_conf();
}

SchedulerHarness::~SchedulerHarness() {
  if (!scheduler_) return;
  try {
    stop(SIGQUIT, 10s);  // kills the agents too (SIGKILL would leave them behind)
  } catch (...) {
    // the Child destructor SIGKILLs the group
  }
}

std::string SchedulerHarness::log() const {
  return read_file(log_path_);
}

void SchedulerHarness::write_conf() {
  const SchedulerSettings& s = settings_;
  std::string text = "[scheduler]\nlisten = 127.0.0.1\n";
  text += fmt::format("port = {}\nsocket = {}/scheduler.sock\nlog_dir = {}/log\n", port_,
                      conf_dir(), conf_dir());
  text += fmt::format("startup_timeout = {}\nheartbeat_timeout = {}\nkill_grace = {}\n",
                      s.startup_timeout, s.heartbeat_timeout, s.kill_grace);
  text += fmt::format("poll_interval = {}\nmax_failures = {}\n", s.poll_interval, s.max_failures);
  if (!s.ssh_command.empty()) text += "ssh_command = " + s.ssh_command + "\n";
  if (!s.extra_scheduler.empty()) text += s.extra_scheduler + "\n";
  text += "[hosts]\n";
  for (const auto& h : s.hosts) {
    std::string dir = h.agentdir.empty() ? build_dir() + "/tests/agents" : h.agentdir;
    text += fmt::format("{} = {} {} {}\n", h.name, h.address, dir, h.max);
  }
  if (!s.repository.empty()) {
    text += "[repository]\n";
    for (const auto& line : s.repository) text += line + "\n";
  }
  write_file(conf_dir() + "/scheduler.conf", text);
  std::filesystem::path agents = conf_dir() + "/agents";
  std::filesystem::create_directories(agents);
  for (const auto& entry : std::filesystem::directory_iterator(agents))
    if (entry.path().extension() == ".conf") std::filesystem::remove(entry.path());
  for (const auto& a : s.agents)
    write_file((agents / (a.name + ".conf")).string(), agent_conf_text(a));
}

Child& SchedulerHarness::start(std::vector<std::string> extra) {
  if (scheduler_) throw std::logic_error("SchedulerHarness::start: already started");
  std::vector<std::string> argv{build_dir() + "/scheduler/scheduler",
                                "-c",
                                conf_dir(),
                                "--db",
                                db_.conninfo(),
                                "-L",
                                log_path_};
  if (settings_.verbose) {
    argv.push_back("-v");
    argv.push_back(std::to_string(*settings_.verbose));
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  Child::Options opts;
  opts.merge_stderr = true;
  scheduler_ = std::make_unique<Child>(std::move(argv), std::move(opts));
  return *scheduler_;
}

void SchedulerHarness::stop(int sig, std::chrono::milliseconds timeout) {
  if (!scheduler_) return;
  scheduler_->signal(sig);
  last_status_ = scheduler_->wait(timeout);
  if (!last_status_) {
    scheduler_->signal_group(SIGKILL);
    scheduler_->wait(10s);
  }
  scheduler_.reset();
}

std::vector<std::string> SchedulerHarness::control(const std::string& command,
                                                   std::chrono::milliseconds timeout) {
  return control_over(Transport::kUnix, command, timeout);
}

std::vector<std::string> SchedulerHarness::control_over(Transport transport,
                                                        const std::string& command,
                                                        std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string path = conf_dir() + "/scheduler.sock";
  int fd = -1;
  eventually(
      [&] {
        fd = transport == Transport::kUnix ? connect_unix(path) : connect_tcp(port_);
        return fd >= 0;
      },
      timeout);
  if (fd < 0)
    throw std::runtime_error(transport == Transport::kUnix
                                 ? "cannot connect to '" + path + "'"
                                 : "cannot connect to 127.0.0.1:" + std::to_string(port_));
  std::string line = command + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    throw std::runtime_error("cannot send to the control socket");
  }
  std::vector<std::string> lines;
  std::string buf;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    bool done = false;
    for (std::size_t nl; !done && (nl = buf.find('\n')) != std::string::npos;) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      done = lines.back() == "end" || lines.back() == "CLOSE";
    }
    if (done) break;
  }
  ::close(fd);
  return lines;
}

RunResult SchedulerHarness::run(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{build_dir() + "/scheduler/scheduler"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run(std::move(argv), {}, timeout);
}

long long SchedulerHarness::queue(const Step& step) {
  return std::stoll(db_.query(queue_sql(step)));
}

std::string SchedulerHarness::queue_sql(const Step& step) {
  std::string deps = "{";
  for (std::size_t i = 0; i < step.depends.size(); ++i) {
    if (i) deps += ',';
    deps += std::to_string(step.depends[i]);
  }
  deps += "}";
  return fmt::format(
      "SELECT queue_step(queue_job('test', NULL, {}, NULL, NULL), {}, {}, '{}', {}, "
      "{}, {})",
      step.priority, literal(step.type), literal(step.args), deps, literal(step.runonpfile),
      literal(step.host), literal(step.cmd_args));
}

bool SchedulerHarness::wait_ended(long long jq_pk, std::chrono::milliseconds timeout) {
  return eventually([&] { return !column(jq_pk, "jq_endtime").empty(); }, timeout);
}

bool SchedulerHarness::wait_started(long long jq_pk, std::chrono::milliseconds timeout) {
  return eventually([&] { return !column(jq_pk, "jq_starttime").empty(); }, timeout);
}

std::string SchedulerHarness::endtext(long long jq_pk) {
  return column(jq_pk, "jq_endtext");
}

int SchedulerHarness::end_bits(long long jq_pk) {
  return std::stoi(column(jq_pk, "jq_end_bits"));
}

long long SchedulerHarness::items(long long jq_pk) {
  return std::stoll(column(jq_pk, "jq_itemsprocessed"));
}

std::string SchedulerHarness::step_log(long long jq_pk) {
  std::string path = column(jq_pk, "jq_log");
  return path.empty() ? "" : read_file(path);
}

std::string SchedulerHarness::column(long long jq_pk, const std::string& column) {
  for (char c : column)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      throw std::invalid_argument("column: bad name '" + column + "'");
  const std::string sql =
      fmt::format("SELECT {}::text FROM jobqueue WHERE jq_pk = {}", column, jq_pk);
  // A SELECT: sent again once on a new connection when the kept one was lost (the cluster
  // restarted, the backend was terminated); an SQL error, or a second failure, is thrown.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!reader_) reader_ = std::make_unique<Session>(db_.conninfo());
      return reader_->query(sql);
    } catch (const std::exception&) {
      if (attempt > 0 || (reader_ && reader_->connected())) throw;
      reader_.reset();
    }
  }
}

}  // namespace test
