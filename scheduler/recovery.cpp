// Requeueing orphaned steps; killing their leftover local agents. An agent is recognised by
// its own command line (--scheduler_start, --jqId=<jq_pk>, --config=<this conf>).
#include "recovery.hpp"

#include <glib.h>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <string>

#include <fmt/format.h>

#include "log.hpp"
#include "queue_sql.hpp"

namespace sched {

namespace {

// The agents a previous scheduler left for `steps`: every process whose own command line says
// it is an agent of one of them for this conf (whole arguments `--scheduler_start`,
// `--jqId=<jq_pk>` and `--config=<dir>` with the scheduler's or an agent type's conf dir), and
// its process group, are killed. /proc, not jq_schedinfo: that holds one pid while a step may
// run several agents, and an agent that was stopped (a paused step) never sees its stdin end.
void kill_leftovers(const Config& config, const std::set<long long>& steps) {
  if (steps.empty()) return;
  std::set<std::string> configs{"--config=" + config.conf_dir};
  for (const auto& [name, type] : config.agents) configs.insert("--config=" + type.config_dir);
  GDir* dir = g_dir_open("/proc", 0, nullptr);
  if (!dir) return;
  while (const char* name = g_dir_read_name(dir)) {
    char* end = nullptr;
    long pid = std::strtol(name, &end, 10);
    if (*end != '\0' || pid <= 1 || pid == ::getpid()) continue;
    // The process may exit while it is read: then it is gone, which is all this wanted.
    std::optional<std::string> cmdline = read_file(fmt::format("/proc/{}/cmdline", pid));
    if (!cmdline) continue;
    bool started = false, ours = false;
    long long jq_pk = -1;
    for (std::size_t at = cmdline->find('\0');
         at != std::string::npos && at + 1 < cmdline->size();) {
      std::size_t next = cmdline->find('\0', at + 1);
      std::string arg =
          cmdline->substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      if (arg == "--scheduler_start") started = true;
      if (configs.count(arg)) ours = true;
      if (arg.rfind("--jqId=", 0) == 0) jq_pk = std::strtoll(arg.c_str() + 7, nullptr, 10);
      at = next;
    }
    if (!started || !ours || !steps.count(jq_pk)) continue;
    log::warning("JOB[{}]: killing agent process group {} left by a previous scheduler", jq_pk,
                 pid);
    if (::getpgid(static_cast<pid_t>(pid)) == static_cast<pid_t>(pid))  // its group: children
      ::kill(-static_cast<pid_t>(pid), SIGKILL);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  g_dir_close(dir);
}

}  // namespace

// std::ifstream + istreambuf_iterator threw std::ios_base::failure ("basic_filebuf::underflow
// error reading the file: No such process") when the process exited between open and read, and
// that stopped the scheduler at start (exit 4). The arguments are NUL-separated: the length
// counts, never strlen().
std::optional<std::string> read_file(const std::string& path) {
  gchar* text = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &text, &length, nullptr)) return std::nullopt;
  std::string bytes(text, length);
  g_free(text);
  return bytes;
}

int recover_steps(Database& db, const Config& config, bool reset) {
  QueryResult orphans = db.exec_blocking(sql::kOrphans, {reset ? "true" : "false"});
  if (!orphans.ok()) throw std::runtime_error("cannot read unfinished steps: " + orphans.error());
  std::set<long long> leftover;  // steps whose agents may still run
  std::string pks = "{";
  for (int i = 0; i < orphans.rows(); ++i) {
    long long pk = orphans.get_long(i, 0);
    leftover.insert(pk);
    if (i) pks += ',';
    pks += std::to_string(pk);
  }
  pks += "}";
  QueryResult requeued = db.exec_blocking(sql::kRequeue, {pks, reset ? "true" : "false"});
  if (!requeued.ok()) throw std::runtime_error("cannot requeue steps: " + requeued.error());
  if (!reset) {
    // Paused steps stay paused; their agents, stopped by the previous scheduler, go.
    QueryResult paused = db.exec_blocking(sql::kPausedStarted);
    if (!paused.ok()) throw std::runtime_error("cannot read paused steps: " + paused.error());
    for (int i = 0; i < paused.rows(); ++i) leftover.insert(paused.get_long(i, 0));
  }
  kill_leftovers(config, leftover);
  if (reset) {
    QueryResult paused = db.exec_blocking(sql::kResetPaused);
    if (!paused.ok()) throw std::runtime_error("cannot reset paused steps: " + paused.error());
  }
  for (int i = 0; i < orphans.rows(); ++i)
    log::warning("JOB[{}] was running when the previous scheduler stopped: queued again",
                 orphans.get_long(i, 0));
  return orphans.rows();
}

}  // namespace sched
