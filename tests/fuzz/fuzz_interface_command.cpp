// libFuzzer target for the control interface's command handling (scheduler/interface.hpp):
// any bytes as one command line to run_command, against a Scheduler holding no step (its
// database is never connected), then finish_step_command for a looked-up step in each of the
// states jobqueue can report. Invariants: nothing crashes; every reply line is one line (no
// '\n'); a reply is empty only for an empty line; `received` comes first exactly for known
// commands; a complete reply ends with `end` or `CLOSE` (close asked exactly with CLOSE), and a
// looked-up one ends with `end` once finished; step commands on a step the scheduler does not
// hold are always looked up, never answered as if they worked.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "config.hpp"
#include "database.hpp"
#include "interface.hpp"
#include "scheduler.hpp"

namespace {

void check(bool ok, const char* what, std::string_view line) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s (line \"%.*s\")\n", what,
               static_cast<int>(line.size()), line.data());
  std::abort();
}

struct World {
  World() : db("host=/nonexistent dbname=none") {
    auto c = std::make_shared<sched::Config>();
    c->hosts.push_back({"localhost", "localhost", "/nonexistent", 2});
    scheduler = std::make_unique<sched::Scheduler>(c, db);
  }
  sched::Database db;
  std::unique_ptr<sched::Scheduler> scheduler;
};

void check_lines(const std::vector<std::string>& lines, std::string_view line) {
  for (const auto& l : lines)
    check(l.find('\n') == std::string::npos, "a reply line holds \\n", line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;  // one scheduler for the run: commands must leave it usable
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (line.find('\n') != std::string_view::npos) return 0;  // the interface splits lines first
  sched::InterfaceActions actions;                          // reload/stop/die: no-ops
  sched::Reply r = sched::run_command(*world.scheduler, actions, line);
  check_lines(r.lines, line);
  if (r.lines.empty()) {
    check(!r.lookup && !r.close, "an empty reply that asks for more", line);
    return 0;
  }
  if (r.lookup) {
    check(r.lines.size() == 1 && r.lines[0] == "received", "a lookup not after received", line);
    check(!r.close, "a lookup that closes", line);
    for (int state = 0; state < 3; ++state) {
      sched::StepFound found{state > 0, state > 1, state > 1 ? "Completed" : ""};
      auto rest = sched::finish_step_command(*world.scheduler, *r.lookup, found);
      check_lines(rest, line);
      check(!rest.empty() && rest.back() == "end", "a looked-up reply not ending with end", line);
      if (!found.exists)
        check(rest.size() == 2 && rest[0].rfind("ERROR: ", 0) == 0,
              "a missing step not answered with one ERROR line", line);
    }
    return 0;
  }
  const std::string& last = r.lines.back();
  check(last == "end" || last == "CLOSE", "a reply not ending with end or CLOSE", line);
  check(r.close == (last == "CLOSE"), "close asked without CLOSE, or CLOSE without close", line);
  bool known = r.lines.front() == "received";
  bool invalid = r.lines.front().rfind("Invalid command: ", 0) == 0;
  check(known != invalid, "neither received nor Invalid command first", line);
  return 0;
}
