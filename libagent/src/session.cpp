// agent::Session (see session.hpp and docs/libagent.md): the mode, the OK/next() loop, the
// DB: exchange and the heartbeat, over one Writer for stdout and one LineInput for stdin.
#include "agent/session.hpp"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <deque>
#include <utility>
#include <variant>

#include "heartbeat.hpp"
#include "line_input.hpp"
#include "writer.hpp"

namespace agent {
namespace {

using protocol::Level;
namespace msg = protocol::msg;
namespace cmd = protocol::cmd;

const char* level_name(Level level) {
  switch (level) {
    case Level::Fatal:
      return "FATAL";
    case Level::Error:
      return "ERROR";
    case Level::Warning:
      return "WARNING";
    case Level::Log:
      return "LOG";
    case Level::Echo:
      return "ECHO";
  }
  return "LOG";
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\v\f") == std::string_view::npos;
}

std::string basename_of(const char* path) {
  const std::string_view p = path != nullptr ? path : "";
  const auto slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

// A short, quoted excerpt of a line for error messages.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 80;
  std::string text(line.substr(0, kMax));
  return "'" + text + (line.size() > kMax ? "...'" : "'");
}

bool handler_is_default(int sig) {
  struct sigaction current {};
  if (sigaction(sig, nullptr, &current) != 0) return false;
  return (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
}

// The heartbeat found stdout broken while the agent's own code may be busy for a long time:
// end the process the way the scheduler's kill would, unless the agent handles SIGTERM itself
// (then it sees hangup() and a nullopt from next() instead). kill() rather than raise(): the
// heartbeat thread blocks signals, so the signal goes to one of the agent's threads.
void terminate_after_hangup() {
  if (handler_is_default(SIGTERM)) ::kill(::getpid(), SIGTERM);
}

}  // namespace

struct Session::Impl {
  SchedulerArgs args;
  Mode mode = Mode::Standalone;
  std::string name;
  SessionOptions options;
  detail::Writer out{STDOUT_FILENO};
  detail::Writer err{STDERR_FILENO};
  detail::LineInput input{STDIN_FILENO};
  std::deque<std::string> pending;  // data lines read ahead while waiting for a DB: reply
  std::vector<std::string> items;   // standalone items; empty = stdin
  std::size_t next_item = 0;
  bool ready_sent = false;
  bool next_started = false;
  std::uint64_t outstanding = 0;  // data lines the scheduler may send that have not arrived
  std::unique_ptr<detail::Heartbeat> heartbeat;

  bool scheduler() const { return mode == Mode::Scheduler; }

  // Writes a protocol message to stdout; false when the scheduler is gone.
  bool send(const protocol::AgentMessage& message) {
    return out.write_line(protocol::format(message)) == detail::Writer::Result::Written;
  }

  void send_ok() { send_oks(1); }

  // n OK lines in one write (whole lines, so still atomic against the heartbeat).
  void send_oks(std::size_t n) {
    if (n == 0) return;
    const std::string ok = protocol::format(msg::Ok{});
    std::string lines;
    lines.reserve(ok.size() * n);
    for (std::size_t i = 0; i < n; ++i) lines += ok;
    if (out.write_line(lines) == detail::Writer::Result::Written) outstanding += n;
  }

  // next()'s acknowledgement of the item it returned before. With WINDOW 4 or more, while
  // the next line is already here, the OK is held back (Writer::hold) rather than written, up
  // to half the window: one write(2) then carries several, and the scheduler, woken once for
  // them, answers with as many lines in one write. Held OKs go out in front of any other
  // message, before the Session waits for input (raw), when the heartbeat beats and when the
  // Session ends; so an OK waits at most for the next item's work or one heartbeat period, and
  // the scheduler, which may be waiting for it to send more, never waits for it while this
  // side waits for input. They count as sent for `outstanding`: they reach the scheduler
  // before anything this side could wait for (a DB: reply).
  void ack_previous() {
    const bool next_here = !pending.empty() || input.has_line();
    if (options.window < 4 || !next_here) {
      send_ok();
      return;
    }
    static const std::string ok = protocol::format(msg::Ok{});
    const std::size_t held = out.hold(ok);
    if (held == 0) return;  // stdout is broken
    ++outstanding;
    if (held >= options.window / 2) out.flush();
  }

  // The next non-blank stdin line, cut or not; nullopt at EOF (or nothing yet, if !wait).
  std::optional<detail::LineInput::Line> raw(bool wait) {
    for (;;) {
      if (wait && !input.has_line()) out.flush();  // the scheduler may be waiting for them
      auto line = input.next(wait);
      if (!line || !is_blank(line->text)) return line;
    }
  }

  // A data line the agent never sees (cut at max_line_bytes): reported, and acknowledged so
  // that the scheduler's count of lines in flight stays right.
  void skip_cut_line(const std::string& text) {
    emit_log(Level::Error, "input line longer than " + std::to_string(protocol::max_line_bytes) +
                               " bytes skipped: " + excerpt(text));
    if (scheduler()) {
      if (outstanding > 0) --outstanding;
      send_ok();
    }
  }

  void emit_log(Level level, std::string_view text) {
    if (scheduler()) {
      send(msg::Log{level, std::string(text)});
      return;
    }
    std::string line = std::string(level_name(level)) + ": ";
    for (char c : text) line += (c == '\n' || c == '\r') ? ' ' : c;
    line += '\n';
    err.write_line(line);
  }

  std::optional<std::string> read_data(bool wait);
  void await_db_start();
  std::vector<protocol::Row> read_db_rows();
};

Session::Session(int& argc, char** argv, SessionOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.args = take_scheduler_args(argc, argv);
  s.mode = s.args.scheduler_start ? Mode::Scheduler : Mode::Standalone;
  s.name = options.name.empty() ? basename_of(argc > 0 ? argv[0] : nullptr) : options.name;
  if (options.window < protocol::min_window || options.window > protocol::max_window) {
    throw Error("SessionOptions.window must be between 1 and 1024, not " +
                std::to_string(options.window));
  }
  s.options = std::move(options);
  if (!s.scheduler()) {
    for (int i = 1; i < argc; ++i) s.items.emplace_back(argv[i]);
    return;
  }
  // Writes to a vanished scheduler must fail with EPIPE, not kill the agent silently.
  if (handler_is_default(SIGPIPE)) ::signal(SIGPIPE, SIG_IGN);
  if (s.options.heartbeat.count() > 0) {
    s.heartbeat =
        std::make_unique<detail::Heartbeat>(s.out, s.options.heartbeat, terminate_after_hangup);
  }
}

// The OKs next() holds go out; then the heartbeat (declared after the writer) stops first.
Session::~Session() {
  if (impl_->scheduler()) impl_->out.flush();
}

Mode Session::mode() const {
  return impl_->mode;
}
const SchedulerArgs& Session::args() const {
  return impl_->args;
}
const std::string& Session::name() const {
  return impl_->name;
}

void Session::set_items(std::vector<std::string> items) {
  impl_->items = std::move(items);
  impl_->next_item = 0;
}

std::optional<std::string> Session::next() {
  if (!impl_->next_started) {
    impl_->next_started = true;
    ready();
  } else if (impl_->scheduler()) {
    impl_->ack_previous();
  }
  return read(true);
}

void Session::ready() {
  Impl& s = *impl_;
  if (!s.scheduler() || s.ready_sent) return;
  s.ready_sent = true;
  const unsigned window = s.options.window;
  if (window > 1 && !s.send(msg::Window{window})) return;
  if (s.send(msg::Ok{})) s.outstanding += window;
}

std::optional<std::string> Session::read(bool wait) {
  Impl& s = *impl_;
  if (!s.scheduler() && !s.items.empty()) {
    if (s.next_item >= s.items.size()) return std::nullopt;
    return s.items[s.next_item++];
  }
  return s.read_data(wait);
}

std::optional<std::string> Session::Impl::read_data(bool wait) {
  for (;;) {
    if (scheduler() && out.broken()) return std::nullopt;
    if (!pending.empty()) {
      std::string line = std::move(pending.front());
      pending.pop_front();
      return line;
    }
    auto line = raw(wait);
    if (!line) return std::nullopt;
    if (line->cut) {
      skip_cut_line(line->text);
      continue;
    }
    if (outstanding > 0) --outstanding;
    return std::move(line->text);
  }
}

void Session::ack(std::size_t n) {
  Impl& s = *impl_;
  if (!s.scheduler()) return;
  if (!s.ready_sent) throw Error("Session::ack() called before ready()");
  s.send_oks(n);
}

unsigned Session::window() const {
  return impl_->options.window;
}

void Session::set_window(unsigned n) {
  Impl& s = *impl_;
  if (n < protocol::min_window || n > protocol::max_window)
    throw Error("Session::set_window: the window must be between 1 and 1024, not " +
                std::to_string(n));
  if (s.ready_sent) throw Error("Session::set_window() called after ready()");
  s.options.window = n;
}

bool Session::at_eof() const {
  const Impl& s = *impl_;
  if (!s.scheduler() && !s.items.empty()) return s.next_item >= s.items.size();
  return s.pending.empty() && s.input.at_eof();
}

void Session::items_processed(std::uint64_t n) {
  if (impl_->scheduler()) impl_->send(msg::ItemsProcessed{n});
}

void Session::log(Level level, std::string_view text) {
  impl_->emit_log(level, text);
}

void Session::jq_subs(std::string_view key, std::string_view value) {
  if (key.empty() || key.find_first_of(" \t\r\n") != std::string_view::npos) {
    throw Error("JQ_SUBS key " + excerpt(key) + " must be one word");
  }
  if (impl_->scheduler()) impl_->send(msg::JqSubs{std::string(key), std::string(value)});
}

bool Session::hangup() const {
  return impl_->out.broken();
}

std::vector<protocol::Row> Session::db(std::string_view sql) {
  Impl& s = *impl_;
  if (!s.scheduler()) throw Error("DB: requests need scheduler mode (--scheduler_start)");
  if (!s.send(msg::Db{std::string(sql)})) throw Error("DB: request not sent: stdout is closed");
  s.await_db_start();
  return s.read_db_rows();
}

// Reads up to DBSTART. Data lines the scheduler had already sent (window > 1, or an ack sent
// before db()) are kept for read(); any other line is a protocol error.
void Session::Impl::await_db_start() {
  for (;;) {
    auto line = raw(true);
    if (!line) throw Error("stdin closed while waiting for the reply to DB:");
    if (line->cut) {
      skip_cut_line(line->text);
      continue;
    }
    auto reply = protocol::parse_db_reply_line(line->text);
    if (std::holds_alternative<cmd::DbStart>(reply)) return;
    if (auto* error = std::get_if<cmd::DbError>(&reply)) throw Error(error->message);
    if (std::holds_alternative<cmd::DbRow>(reply) && outstanding > 0) {
      --outstanding;
      pending.push_back(std::move(line->text));
      continue;
    }
    throw Error("protocol error: " + excerpt(line->text) + " while waiting for DBSTART");
  }
}

// Reads rows up to DBEOF. On a bad row it still reads to the end of the reply, so that no
// reply line is later taken for data, then throws.
std::vector<protocol::Row> Session::Impl::read_db_rows() {
  std::vector<protocol::Row> rows;
  std::string problem;
  for (;;) {
    auto line = raw(true);
    if (!line) throw Error("stdin closed in the middle of a DB: reply");
    if (line->cut) {
      if (problem.empty()) problem = "DB: reply row longer than 64 KiB";
      continue;
    }
    auto reply = protocol::parse_db_reply_line(line->text);
    if (std::holds_alternative<cmd::DbEof>(reply)) break;
    if (auto* error = std::get_if<cmd::DbError>(&reply)) throw Error(error->message);
    if (std::holds_alternative<cmd::DbStart>(reply)) {
      if (problem.empty()) problem = "protocol error: DBSTART inside a DB: reply";
      continue;
    }
    auto parsed = protocol::parse_row(std::get<cmd::DbRow>(reply).line);
    if (parsed.row)
      rows.push_back(std::move(*parsed.row));
    else if (problem.empty())
      problem = "bad row in DB: reply: " + parsed.error;
  }
  if (!problem.empty()) throw Error(problem);
  return rows;
}

}  // namespace agent
