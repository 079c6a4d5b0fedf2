// The control interface's commands (SPEC §7): what each command line does and its reply.
// Sockets, framing and authentication are in interface.cpp.
#include <glib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "interface.hpp"
#include "log.hpp"

namespace sched {

namespace {

std::vector<std::string> split_words(std::string_view line, std::string& error) {
  int argc = 0;
  char** argv = nullptr;
  GError* err = nullptr;
  std::string text(line);
  if (!g_shell_parse_argv(text.c_str(), &argc, &argv, &err)) {
    error = err ? err->message : "cannot parse";
    g_clear_error(&err);
    return {};
  }
  std::vector<std::string> words(argv, argv + argc);
  g_strfreev(argv);
  return words;
}

std::optional<long long> number(const std::string& s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string clock_text(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string job_line(const JobView& j) {
  return fmt::format("job:{} status:{} type:{}, priority:{} running:{} finished:0 failed:{}",
                     j.jq_pk, j.state, j.type, j.priority, j.running, j.failures);
}

void status(Scheduler& s, const InterfaceActions& a, const std::vector<std::string>& w, Reply& r) {
  auto jobs = s.jobs();
  if (w.size() == 1) {
    r.lines.push_back(
        fmt::format("scheduler:{} revision:{} daemon:{} jobs:{} log:{} port:{} verbose:{}",
                    getpid(), JOBLINE_VERSION, a.daemon ? 1 : 0, jobs.size(), log::target(),
                    s.config().port, log::verbose()));
    for (const auto& j : jobs) r.lines.push_back(job_line(j));
    return;
  }
  auto pk = number(w[1]);
  auto it = std::find_if(jobs.begin(), jobs.end(),
                         [&](const JobView& j) { return pk && j.jq_pk == *pk; });
  if (it == jobs.end()) {
    r.lines.push_back("ERROR: invalid job id = " + w[1]);
    return;
  }
  r.lines.push_back(job_line(*it));
  for (const auto& ag : s.agents())
    if (ag.jq_pk == it->jq_pk)
      r.lines.push_back(fmt::format("agent:{} host:{} type:{} status:{} time:{}", ag.pid, ag.host,
                                    ag.type, ag.state, clock_text(ag.last_seen)));
}

bool held(Scheduler& s, long long pk) {
  auto jobs = s.jobs();
  return std::any_of(jobs.begin(), jobs.end(), [&](const JobView& j) { return j.jq_pk == pk; });
}

// Runs kill / pause / restart / priority (arguments already checked); false with `error`.
bool apply(Scheduler& s, const std::vector<std::string>& w, long long pk, std::string& error) {
  const std::string& cmd = w[0];
  if (cmd == "kill") return s.kill(pk, w[2], error);
  if (cmd == "pause") return s.pause(pk, error);
  if (cmd == "restart") return s.restart(pk, error);
  return s.set_priority(pk, static_cast<int>(number(w[2]).value_or(0)), error);
}

// kill / pause / restart / priority / verbose: commands on one step. A step the scheduler
// does not hold is looked up in jobqueue first (r.lookup).
void step_command(Scheduler& s, const std::vector<std::string>& w, Reply& r) {
  const std::string& cmd = w[0];
  std::string error;
  // Arguments as numbers up front: -1 when absent or not a number (no step has pk -1).
  long long pk = w.size() > 1 ? number(w[1]).value_or(-1) : -1;
  // The second argument as an int; not a number or out of range: none (GCC 12 warns falsely
  // about a std::optional here).
  constexpr long long kNone = std::numeric_limits<long long>::min();
  long long second = w.size() > 2 ? number(w[2]).value_or(kNone) : kNone;
  bool in_int =
      second >= std::numeric_limits<int>::min() + 1 && second <= std::numeric_limits<int>::max();
  bool valid = pk >= 0 && ((cmd == "kill" && w.size() == 3) ||
                           ((cmd == "pause" || cmd == "restart") && w.size() == 2) ||
                           (cmd == "priority" && w.size() == 3 && in_int) ||
                           (cmd == "verbose" && (w.size() == 2 || (w.size() == 3 && in_int))));
  if (!valid) {
    r.lines.push_back(fmt::format("ERROR: invalid {} command: \"{}\"", cmd, fmt::join(w, " ")));
    return;
  }
  bool ok = true;
  if (cmd == "verbose" && w.size() == 2) {
    log::set_verbose(static_cast<int>(pk));
  } else if (cmd == "verbose") {
    ok = s.set_verbose(pk, static_cast<int>(second), error);
  } else if (!held(s, pk)) {
    r.lookup = StepLookup{pk, w};
    return;
  } else {
    ok = apply(s, w, pk, error);
  }
  if (!ok) r.lines.push_back("ERROR: " + error);
}

}  // namespace

Reply run_command(Scheduler& s, const InterfaceActions& a, std::string_view line) {
  Reply r;
  std::string error;
  auto w = split_words(line, error);
  if (w.empty()) {
    if (!error.empty()) {
      r.lines.push_back("Invalid command: \"" + std::string(line) + "\": " + error);
      r.lines.push_back("end");
    }
    return r;
  }
  std::string& cmd = w[0];
  std::transform(cmd.begin(), cmd.end(), cmd.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* known[] = {"status",  "load",     "agents",  "kill",   "pause",
                                "restart", "priority", "verbose", "reload", "database",
                                "stop",    "die",      "close",   "auth"};
  if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return cmd == k; })) {
    r.lines.push_back("Invalid command: \"" + std::string(line) + "\"");
    r.lines.push_back("end");
    return r;
  }
  r.lines.push_back("received");
  if (cmd == "close" || cmd == "stop" || cmd == "die") {
    if (cmd == "stop" && a.stop) a.stop();
    if (cmd == "die" && a.die) a.die();
    r.lines.push_back("CLOSE");
    r.close = true;
    return r;
  }
  if (cmd == "auth") {
    // Checked by the Interface before a TCP client is let in; anywhere else (the Unix socket,
    // no auth_token, already in) there is nothing to check.
  } else if (cmd == "status") {
    status(s, a, w, r);
  } else if (cmd == "load") {
    auto load = s.host_load();
    for (const auto& h : s.config().hosts)
      r.lines.push_back(fmt::format("host:{} address:{} max:{} running:{} down:{}", h.name,
                                    h.address, h.max, load[h.name], s.host_down(h.name) ? 1 : 0));
  } else if (cmd == "agents") {
    std::string names;
    for (const auto& name : s.valid_agent_types()) names += name + " ";
    r.lines.push_back(names);
  } else if (cmd == "reload") {
    if (a.reload) a.reload();
  } else if (cmd == "database") {
    s.request_poll();
  } else if (cmd == "verbose" && w.size() == 1) {
    r.lines.push_back(fmt::format("level: {}", log::verbose()));
  } else {
    step_command(s, w, r);
    if (r.lookup) return r;  // the rest comes from finish_step_command
  }
  r.lines.push_back("end");
  return r;
}

std::vector<std::string> finish_step_command(Scheduler& s, const StepLookup& lookup,
                                             const StepFound& row) {
  const std::string& cmd = lookup.words[0];
  const long long pk = lookup.jq_pk;
  std::string error;
  if (!row.exists) {
    error = fmt::format("step {} does not exist", pk);
  } else if (row.ended && cmd != "priority") {
    error = fmt::format("step {} has already ended: {}", pk, row.endtext);
  } else if (cmd == "restart" && row.endtext != "Paused" && !held(s, pk)) {
    error = fmt::format("step {} is not paused", pk);
  } else {
    apply(s, lookup.words, pk, error);
  }
  std::vector<std::string> lines;
  if (!error.empty()) lines.push_back("ERROR: " + error);
  lines.push_back("end");
  return lines;
}

bool token_matches(std::string_view given, std::string_view token) {
  // Hashing first makes the comparison's length fixed; the loop never stops early.
  auto digest = [](std::string_view s) {
    GChecksum* sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, reinterpret_cast<const guchar*>(s.data()),
                      static_cast<gssize>(s.size()));
    std::array<guint8, 32> out{};
    gsize len = out.size();
    g_checksum_get_digest(sum, out.data(), &len);
    g_checksum_free(sum);
    return out;
  };
  auto a = digest(given), b = digest(token);
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ b[i]);
  return diff == 0 && !token.empty();
}

}  // namespace sched
