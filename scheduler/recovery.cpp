// Requeueing orphaned steps; killing their leftover local agents. An agent is recognised by
// its own command line (it carries --jqId=<jq_pk>), never by scanning every process.
#include "recovery.hpp"

#include <glib.h>
#include <signal.h>

#include <string>

#include "log.hpp"
#include "queue_sql.hpp"

namespace sched {

namespace {

// schedinfo is "<host>.<pid>": kill that process group if it is this step's agent.
void kill_leftover(const Config& config, long long jq_pk, const std::string& schedinfo) {
  auto dot = schedinfo.rfind('.');
  if (dot == std::string::npos) return;
  const HostConfig* host = config.host(schedinfo.substr(0, dot));
  if (!host || !host->local()) return;  // remote agents exit when their ssh connection dies
  long pid = std::strtol(schedinfo.c_str() + dot + 1, nullptr, 10);
  if (pid <= 1) return;
  // The process may exit while it is read: then it is gone, which is all this wanted.
  std::optional<std::string> cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline) return;
  // A whole argument (argv[0] is the binary, so the mark is never first).
  std::string mark = std::string(1, '\0') + "--jqId=" + std::to_string(jq_pk);
  mark.push_back('\0');
  if (cmdline->find(mark) == std::string::npos) return;
  log::warning("JOB[{}]: killing agent process group {} left by a previous scheduler", jq_pk, pid);
  ::kill(-static_cast<pid_t>(pid), SIGKILL);
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
  std::string pks = "{";
  for (int i = 0; i < orphans.rows(); ++i) {
    long long pk = orphans.get_long(i, 0);
    kill_leftover(config, pk, orphans.get(i, 1));
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
    for (int i = 0; i < paused.rows(); ++i)
      kill_leftover(config, paused.get_long(i, 0), paused.get(i, 1));
  }
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
