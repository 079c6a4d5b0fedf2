// Requeueing orphaned steps; killing their leftover local agents. An agent is recognised by
// its own command line (it carries --jqId=<jq_pk>), never by scanning every process.
#include "recovery.hpp"

#include <signal.h>

#include <fstream>
#include <iterator>

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
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A whole argument (argv[0] is the binary, so the mark is never first).
  std::string mark = std::string(1, '\0') + "--jqId=" + std::to_string(jq_pk);
  mark.push_back('\0');
  if (cmdline.find(mark) == std::string::npos) return;
  log::warning("JOB[{}]: killing agent process group {} left by a previous scheduler", jq_pk, pid);
  ::kill(-static_cast<pid_t>(pid), SIGKILL);
}

}  // namespace

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
