// jobctl watch <job>: live progress of a job's steps until the job ends. On a terminal the
// lines are redrawn in place; into a pipe or file one plain line is written per change. Woken
// by the scheduler's NOTIFYs (starts and ends) and every half second (item counts). Items done
// of items known (jq_itemsknown: SQL-fed steps, once their query is counted) give a bar and an
// ETA; without it the bar shows the state only.
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "context.hpp"
#include "output.hpp"
#include "step_state.hpp"

namespace jobctl {

namespace {

struct StepView {
  long long jq = 0;
  std::string type, state, end;
  long long items = 0;
  std::optional<long long> known;  // items to do, when known
  double elapsed = 0;              // seconds since its start (to its end when ended)
  bool ended() const { return state == "completed" || state == "failed"; }
};

std::vector<StepView> read_steps(agent::Database& db, long long job) {
  auto r = db.exec(fmt::format(R"(
SELECT jq.jq_pk, jq.jq_type, {}, jq.jq_itemsprocessed,
       coalesce(extract(epoch FROM coalesce(jq.jq_endtime, now()) - jq.jq_starttime), 0),
       coalesce(jq.jq_endtext, ''), jq.jq_itemsknown
  FROM jobqueue jq WHERE jq.jq_job_fk = $1 ORDER BY jq.jq_pk)",
                               kStepStateSql),
                   {std::to_string(job)});
  std::vector<StepView> out;
  for (int i = 0; i < r.rows(); ++i) {
    StepView s{std::stoll(r.get(i, 0)), r.get(i, 1),  r.get(i, 2),           r.get(i, 5),
               std::stoll(r.get(i, 3)), std::nullopt, std::stod(r.get(i, 4))};
    if (!r.is_null(i, 6)) s.known = std::stoll(r.get(i, 6));
    out.push_back(std::move(s));
  }
  return out;
}

double rate_of(const StepView& s) {
  return s.elapsed > 0.05 ? static_cast<double>(s.items) / s.elapsed : 0;
}

// "1234/5678" or "1234".
std::string items_text(const StepView& s) {
  return s.known ? fmt::format("{}/{}", s.items, std::max(*s.known, s.items))
                 : std::to_string(s.items);
}

// The time left of a running step at its rate, when its items are known: "ETA 1m05s".
std::string eta_text(const StepView& s) {
  if (s.state != "running" || !s.known || rate_of(s) <= 0) return "";
  double left = static_cast<double>(std::max(*s.known - s.items, 0LL)) / rate_of(s);
  return "ETA " + duration_text(left);
}

std::string rate_text(const StepView& s) {
  return rate_of(s) > 0 ? fmt::format("{:.1f}/s", rate_of(s)) : "-";
}

// One line per step for a terminal: a bar (items done of known, else by state), items, rate,
// elapsed, ETA.
std::string screen_line(const StepView& s) {
  constexpr int kWidth = 20;
  int fill = s.state == "completed" ? kWidth : s.state == "running" ? kWidth / 2 : 0;
  if (s.state == "running" && s.known && *s.known > 0)
    fill = static_cast<int>(kWidth * std::min(s.items, *s.known) / *s.known);
  std::string bar = s.state == "running" ? std::string(static_cast<std::size_t>(fill), '=') + ">"
                                         : std::string(static_cast<std::size_t>(fill), '#');
  bar.resize(kWidth + 1, ' ');
  std::string tail = s.state == "failed" ? "  " + s.end : "  " + eta_text(s);
  return fmt::format("{:>6}  {:<12.12} [{}] {:<9} {:>13} items {:>10} {:>8}{}", s.jq, s.type, bar,
                     s.state, items_text(s), rate_text(s), duration_text(s.elapsed), tail);
}

std::string clock_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

class Screen {
 public:
  explicit Screen(bool tty) : tty_(tty) {}
  void draw(long long job, const std::vector<StepView>& steps) {
    if (tty_)
      redraw(job, steps);
    else
      changes(steps);
  }

 private:
  void redraw(long long job, const std::vector<StepView>& steps) {
    std::string out;
    if (drawn_ > 0) out += fmt::format("\x1b[{}A", drawn_);
    std::vector<std::string> lines{fmt::format("job {} — {}", job, clock_now())};
    for (const auto& s : steps) lines.push_back(screen_line(s));
    for (const auto& l : lines) out += "\x1b[2K" + l + "\n";
    for (std::size_t i = lines.size(); i < drawn_; ++i) out += "\x1b[2K\n";
    drawn_ = std::max(drawn_, lines.size());
    std::cout << out << std::flush;
  }
  void changes(const std::vector<StepView>& steps) {
    for (const auto& s : steps) {
      auto key = fmt::format("{}|{}|{}", s.state, s.items, s.known.value_or(-1));
      if (last_[s.jq] == key) continue;
      last_[s.jq] = key;
      std::string eta = eta_text(s);
      std::cout << fmt::format("{} step {} {} {} items {} rate {} elapsed {}{}{}\n", clock_now(),
                               s.jq, s.type, s.state, items_text(s), rate_text(s),
                               duration_text(s.elapsed), eta.empty() ? "" : " " + eta,
                               s.state == "failed" ? ": " + s.end : "");
    }
    std::cout << std::flush;
  }

  bool tty_;
  std::size_t drawn_ = 0;
  std::map<long long, std::string> last_;
};

// Waits for a NOTIFY or the timeout.
void wait_for_news(agent::Database& db, std::chrono::milliseconds timeout) {
  pollfd p{PQsocket(db.native()), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
    PQconsumeInput(db.native());
    while (PGnotify* n = PQnotifies(db.native())) PQfreemem(n);
  }
}

int watch(Context& ctx, const po::variables_map& vm) {
  long long job = vm["job"].as<long long>();
  auto db = ctx.connect();
  if (!db.exec("SELECT 1 FROM job WHERE job_pk = $1", {std::to_string(job)}).rows())
    throw Failure(fmt::format("watch: job {} does not exist", job));
  db.exec("LISTEN jobline_jobqueue");
  Screen screen(::isatty(STDOUT_FILENO) != 0 && !ctx.json);
  auto interval = std::chrono::milliseconds(vm["interval"].as<int>());
  for (;;) {
    auto steps = read_steps(db, job);
    screen.draw(job, steps);
    bool done = std::all_of(steps.begin(), steps.end(), [](auto& s) { return s.ended(); });
    if (done) {
      auto failed =
          std::count_if(steps.begin(), steps.end(), [](auto& s) { return s.state == "failed"; });
      std::cout << fmt::format("job {} ended: {} step(s) completed, {} failed\n", job,
                               steps.size() - static_cast<std::size_t>(failed), failed);
      return failed == 0 ? 0 : 1;
    }
    wait_for_news(db, interval);
  }
}

}  // namespace

void add_watch_command(std::vector<Command>& out) {
  out.push_back({"watch",
                 "Live progress of a job's steps (state, items, rate, elapsed) until it ends; "
                 "redrawn in place on a terminal, plain lines into a pipe. Exit status 0 when "
                 "every step completed, 1 otherwise.",
                 "watch <job> [--interval MS]",
                 [] {
                   po::options_description o("watch options");
                   o.add_options()("job", po::value<long long>()->required(), "the job")(
                       "interval", po::value<int>()->default_value(500),
                       "milliseconds between looks at the item counts");
                   return o;
                 },
                 {{"job", 1}},
                 watch});
}

}  // namespace jobctl
