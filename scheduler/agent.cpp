// The agent lifecycle and the scheduler's side of the line protocol (SPEC §2, §3).
#include "agent.hpp"

#include <csignal>
#include <type_traits>

namespace sched {

namespace proto = agent::protocol;
namespace msg = agent::protocol::msg;

std::optional<AgentState> next_state(AgentState state, AgentEvent event) {
  using S = AgentState;
  switch (event) {
    case AgentEvent::Spawn:  // the process exists
      return state == S::Created ? std::optional(S::Spawned) : std::nullopt;
    case AgentEvent::FirstOk:  // ready for data
      return state == S::Spawned ? std::optional(S::Running) : std::nullopt;
    case AgentEvent::Pause:  // SIGSTOP: holds no slot, not watched for silence
      return state == S::Running || state == S::Spawned ? std::optional(S::Paused) : std::nullopt;
    case AgentEvent::Resume:  // SIGCONT
      return state == S::Paused ? std::optional(S::Running) : std::nullopt;
    case AgentEvent::NoMoreData:  // stdin closed / CLOSE sent: waiting for a clean exit
      return state == S::Running ? std::optional(S::Draining) : std::nullopt;
    case AgentEvent::Fail:  // timeout, kill, protocol failure: the exit will be a failure
      return state == S::Gone || state == S::Failed ? std::nullopt : std::optional(S::Failed);
    case AgentEvent::Exit:  // the process is gone
      return state == S::Gone ? std::nullopt : std::optional(S::Gone);
  }
  return std::nullopt;
}

std::string_view state_name(AgentState state) {
  switch (state) {
    case AgentState::Created:
      return "AGENT_CREATED";
    case AgentState::Spawned:
      return "AGENT_SPAWNED";
    case AgentState::Running:
      return "AGENT_RUNNING";
    case AgentState::Paused:
      return "AGENT_PAUSED";
    case AgentState::Draining:
      return "AGENT_PAUSED";
    case AgentState::Failed:
      return "AGENT_FAILED";
    case AgentState::Gone:
      return "AGENT_CLOSED";
  }
  return "AGENT_UNKNOWN";
}

Agent::Agent(AgentSpec spec, DataSource* source, AgentListener& listener, log::StepLog* step_log)
    : spec_(std::move(spec)),
      source_(source),
      listener_(listener),
      step_log_(step_log),
      startup_([this] {
        kill_now(fmt::format("no OK within {} ms (startup_timeout)",
                             spec_.config->startup_timeout.count()));
      }),
      heartbeat_([this] {
        if (nokill() || state_ == AgentState::Paused) {
          touch();
          return;
        }
        kill(fmt::format("no heartbeat for {} ms (heartbeat_timeout)",
                         spec_.config->heartbeat_timeout.count()));
      }) {}

Agent::~Agent() = default;

pid_t Agent::pid() const {
  return process_ ? process_->pid() : -1;
}

bool Agent::nokill() const {
  return nokill_runtime_ || spec_.type->has(kNokill);
}

bool Agent::holds_slot() const {
  return state_ == AgentState::Created || state_ == AgentState::Spawned ||
         state_ == AgentState::Running || state_ == AgentState::Failed;
}

bool Agent::idle() const {
  return state_ == AgentState::Running && in_flight_.size() < window_;
}

void Agent::apply(AgentEvent event) {
  if (auto next = next_state(state_, event)) state_ = *next;
}

void Agent::start() {
  AgentProcess::Callbacks cb;
  cb.on_stdout = [this](std::string_view line, bool cut) { on_line(line, cut); };
  cb.on_stderr = [this](std::string_view line, bool cut) { on_stderr(line, cut); };
  cb.on_exit = [this](ExitStatus status) { on_exit(status); };
  process_ = AgentProcess::spawn(spec_.argv, spec_.cwd, std::move(cb));
  tag_ = log::job_tag(spec_.jq_pk, spec_.type->name, process_->pid(), spec_.host->name);
  apply(AgentEvent::Spawn);
  startup_.arm(Clock::now() + spec_.config->startup_timeout);
  touch();
}

void Agent::touch() {
  last_seen_wall_ = std::chrono::system_clock::now();
  heartbeat_.arm(Clock::now() + spec_.config->heartbeat_timeout);
}

void Agent::log_agent(log::Level level, std::string_view text) {
  if (step_log_) step_log_->agent_line(pid(), spec_.host->name, text, level);
  if (level <= log::Level::kWarning || !step_log_)
    log::write(level, fmt::format("{}: \"{}\"", tag_, text));
}

void Agent::on_stderr(std::string_view line, bool cut) {
  touch();
  if (cut) log_agent(log::Level::kWarning, "protocol error: stderr line longer than 64 KiB cut");
  log_agent(log::Level::kNote, line);
}

void Agent::on_line(std::string_view line, bool cut) {
  touch();
  if (cut) {
    log_agent(log::Level::kWarning,
              fmt::format("protocol error: line longer than {} bytes cut", proto::max_line_bytes));
    log_agent(log::Level::kNote, line.substr(0, 200));
    return;
  }
  if (first_line_ && !line.empty()) {
    first_line_ = false;
    if (proto::starts_fossology_dialect(line))
      dialect_ = proto::Dialect::Fossology;
    else if (line.find("VERSION:") != std::string_view::npos)
      log_agent(log::Level::kWarning,
                "first line does not start with VERSION: (text written before it?): seed dialect");
  }
  if (auto message = proto::parse_agent_line(line, dialect_)) handle(*message);
}

void Agent::handle(const proto::AgentMessage& message) {
  std::visit(
      [this](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, msg::Ok>) {
          handle_ok();
        } else if constexpr (std::is_same_v<T, msg::Heartbeat> || std::is_same_v<T, msg::Success>) {
        } else if constexpr (std::is_same_v<T, msg::ItemsProcessed>) {
          if (m.n) listener_.on_agent_items(*this, m.n);
        } else if constexpr (std::is_same_v<T, msg::Heart>) {
          if (m.items > heart_items_) listener_.on_agent_items(*this, m.items - heart_items_);
          heart_items_ = m.items;
        } else if constexpr (std::is_same_v<T, msg::Log>) {
          static constexpr log::Level levels[] = {log::Level::kFatal, log::Level::kError,
                                                  log::Level::kWarning, log::Level::kNote,
                                                  log::Level::kNote};
          if (m.level == proto::Level::Fatal) {
            fatal_ = true;
            if (failure_.empty()) failure_ = "FATAL: " + m.text;
            last_error_ = "FATAL: " + m.text;
          } else if (m.level == proto::Level::Error) {
            last_error_ = "ERROR: " + m.text;
          }
          log_agent(levels[static_cast<int>(m.level)], m.text);
        } else if constexpr (std::is_same_v<T, msg::Db>) {
          listener_.on_agent_db(*this, m.sql);
        } else if constexpr (std::is_same_v<T, msg::JqSubs>) {
          listener_.on_agent_subs(*this, m.key, m.value);
        } else if constexpr (std::is_same_v<T, msg::Window>) {
          if (state_ == AgentState::Spawned)
            window_ = m.n;
          else
            log_agent(log::Level::kWarning, "protocol error: WINDOW after the first OK ignored");
        } else if constexpr (std::is_same_v<T, msg::Version>) {
          log_agent(log::Level::kNote, "VERSION: " + m.text);
        } else if constexpr (std::is_same_v<T, msg::Bye>) {
          bye_ = m.rc;
          if (m.rc != 0 && failure_.empty()) failure_ = fmt::format("BYE {}", m.rc);
        } else if constexpr (std::is_same_v<T, msg::Email>) {
          log_agent(log::Level::kNote, "EMAIL " + m.text);
        } else if constexpr (std::is_same_v<T, msg::Special>) {
          if (m.bits & 1u) nokill_runtime_ = m.value;
        } else if constexpr (std::is_same_v<T, msg::GetSpecial>) {
          bool set = (m.bits & 1u) && nokill_runtime_;
          if (process_)
            process_->send(proto::format(proto::FossologyCommand{proto::cmd::Value{set ? 1 : 0}}));
        } else if constexpr (std::is_same_v<T, msg::Text>) {
          log_agent(log::Level::kNote, m.text);
        } else if constexpr (std::is_same_v<T, msg::Malformed>) {
          log_agent(log::Level::kWarning,
                    fmt::format("protocol error: {}: \"{}\"", m.reason, m.line));
        }
      },
      message);
}

void Agent::handle_ok() {
  if (state_ == AgentState::Spawned) {
    startup_.disarm();
    said_ok_ = true;
    apply(AgentEvent::FirstOk);
    listener_.on_agent_running(*this);
  } else if (!in_flight_.empty()) {
    Item item = std::move(in_flight_.front());
    in_flight_.pop_front();
    source_->done(item);
  } else if (state_ != AgentState::Running) {
    return;
  }
  feed();
}

void Agent::send_item(const Item& item) {
  auto line = proto::format_data_line(item.line);
  if (!line) {  // cannot be one line: the step fails, saying why (it is not fed again)
    std::string why = unsendable(item.line, "a row line").value_or("a row line cannot be sent");
    log_agent(log::Level::kError, why);
    source_->done(item);
    listener_.on_agent_bad_data(*this, why);
    return;
  }
  in_flight_.push_back(item);
  process_->send(*line);
  if (dialect_ == proto::Dialect::Fossology)
    process_->send(proto::format(proto::FossologyCommand{proto::cmd::End{}}));
}

void Agent::feed() {
  if (state_ != AgentState::Running || !process_) return;
  unsigned window = dialect_ == proto::Dialect::Fossology ? 1u : window_;
  const bool idle = in_flight_.empty();
  AgentProcess::Hold hold(*process_);  // the lines in one write
  while (in_flight_.size() < window) {
    auto item = source_->take(spec_.host->name);
    if (!item) break;
    send_item(*item);
  }
  // It had nothing else to do: its answer to these lines may come at once.
  if (idle && !in_flight_.empty()) process_->await_answer();
  if (in_flight_.empty() && source_->finished()) end_data();
}

void Agent::end_data() {
  apply(AgentEvent::NoMoreData);
  if (dialect_ == proto::Dialect::Fossology)
    process_->send(proto::format(proto::FossologyCommand{proto::cmd::Close{}}));
  else
    process_->close_stdin();
}

void Agent::pause() {
  if (!process_ || !next_state(state_, AgentEvent::Pause)) return;
  process_->signal_group(SIGSTOP);
  apply(AgentEvent::Pause);
}

void Agent::resume() {
  if (!process_ || state_ != AgentState::Paused) return;
  process_->signal_group(SIGCONT);
  apply(AgentEvent::Resume);
  touch();
  feed();
}

void Agent::fail(const std::string& reason) {
  if (failure_.empty()) failure_ = reason;
  apply(AgentEvent::Fail);
  startup_.disarm();
  heartbeat_.disarm();
}

void Agent::kill(const std::string& reason) {
  if (!process_ || !process_->running()) return;
  log_agent(log::Level::kWarning, "killing: " + reason);
  fail(reason);
  process_->terminate(spec_.config->kill_grace);
}

void Agent::kill_now(const std::string& reason) {
  if (!process_ || !process_->running()) return;
  log_agent(log::Level::kWarning, "killing: " + reason);
  fail(reason);
  process_->kill_now();
}

void Agent::reply_db(const std::vector<std::string>& row_lines, const std::string& error) {
  if (!process_) return;
  std::string out;
  if (!error.empty()) {
    out = proto::format(proto::DbReply{proto::cmd::DbError{error}});
  } else {
    out = proto::format(proto::DbReply{proto::cmd::DbStart{}});
    for (const auto& row : row_lines) out += row + "\n";
    out += proto::format(proto::DbReply{proto::cmd::DbEof{}});
  }
  process_->send(out);
}

void Agent::set_verbose(int level) {
  if (process_ && dialect_ == proto::Dialect::Fossology)
    process_->send(proto::format(proto::FossologyCommand{proto::cmd::Verbose{level}}));
}

void Agent::on_exit(ExitStatus status) {
  startup_.disarm();
  heartbeat_.disarm();
  AgentOutcome out;
  out.said_ok = said_ok_;
  out.killed = state_ == AgentState::Failed;  // fail() is kill()'s and kill_now()'s
  out.exit_code = status.code;
  out.last_error = last_error_;
  bool fossology = dialect_ == proto::Dialect::Fossology;
  if (state_ == AgentState::Failed) {
    out.reason = failure_;
  } else if (fatal_) {
    out.reason = failure_;
    out.fatal = true;
  } else if (fossology && !bye_) {
    out.reason = "exited without BYE (" + status.describe() + ")";
  } else if (fossology && *bye_ != 0) {
    out.reason = failure_;
  } else if (status.signal != 0 || (!fossology && status.code != 0)) {
    out.reason = "exited with " + status.describe();
  } else if (!said_ok_) {  // even with BYE 0: it took no data, a new agent would do the same
    out.reason = "exited before its first OK (" + status.describe() + ")";
  } else if (!fossology && state_ != AgentState::Draining) {
    out.reason = "exited before the end of its data (" + status.describe() + ")";
  } else {
    out.success = true;
  }
  if (fossology && out.success) {
    for (auto& item : in_flight_) source_->done(item);  // BYE 0 vouches for what it held
  } else {
    for (auto& item : in_flight_) source_->give_back(std::move(item));
  }
  in_flight_.clear();
  // A killed agent's reason says why it was killed; the log also says how it died. A clean exit
  // is one of the scheduler's NOTEs about the step (verbose >= 1, as StepLog::write).
  std::string died = state_ == AgentState::Failed ? " (" + status.describe() + ")" : "";
  if (!out.success)
    log_agent(log::Level::kWarning, "failed: " + out.reason + died);
  else if (log::enabled(log::Level::kNote))
    log_agent(log::Level::kNote, "exited cleanly");
  apply(AgentEvent::Exit);
  listener_.on_agent_exit(*this, out);  // may destroy *this
}

}  // namespace sched
