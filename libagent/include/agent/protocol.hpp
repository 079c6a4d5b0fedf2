// The line protocol between the scheduler and its agents (SPEC §2): one pure codec used by both
// sides. Every function here is pure: no I/O, no logging, no globals. Lines are passed without
// their terminating '\n'; formatters return lines with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace agent::protocol {

// The longest line either side accepts, not counting the '\n' (SPEC §2).
inline constexpr std::size_t max_line_bytes = 64 * 1024;
// Bounds of `WINDOW <n>` (SPEC §2.5).
inline constexpr unsigned min_window = 1;
inline constexpr unsigned max_window = 1024;

// Which language an agent speaks. The first line decides: `VERSION:` means Fossology.
enum class Dialect { Seed, Fossology };

// Seed log levels (SPEC §2.1).
enum class Level { Fatal, Error, Warning, Log, Echo };

// ---- Agent -> scheduler ----------------------------------------------------------------------
namespace msg {
struct Ok {
  bool operator==(const Ok&) const = default;
};
struct Heartbeat {
  bool operator==(const Heartbeat&) const = default;
};
struct ItemsProcessed {
  std::uint64_t n = 0;
  bool operator==(const ItemsProcessed&) const = default;
};
struct Log {  // FATAL / ERROR / WARNING / LOG / ECHO, with or without a colon
  Level level = Level::Log;
  std::string text;
  bool operator==(const Log&) const = default;
};
struct Db {  // DB: <sql>
  std::string sql;
  bool operator==(const Db&) const = default;
};
struct JqSubs {  // JQ_SUBS <key> <value...>
  std::string key;
  std::string value;
  bool operator==(const JqSubs&) const = default;
};
struct Success {
  bool operator==(const Success&) const = default;
};
struct Window {  // WINDOW <n>, 1..1024
  unsigned n = 1;
  bool operator==(const Window&) const = default;
};
// Fossology dialect.
struct Version {  // VERSION: <text>
  std::string text;
  bool operator==(const Version&) const = default;
};
struct Heart {  // HEART: <cumulative items> <alive 0|1>
  std::uint64_t items = 0;
  bool alive = false;
  bool operator==(const Heart&) const = default;
};
struct Bye {  // BYE <rc>
  int rc = 0;
  bool operator==(const Bye&) const = default;
};
struct Email {  // EMAIL <text>
  std::string text;
  bool operator==(const Email&) const = default;
};
struct Special {  // SPECIAL: <bits> <0|1>
  std::uint32_t bits = 0;
  bool value = false;
  bool operator==(const Special&) const = default;
};
struct GetSpecial {  // GETSPECIAL: <bits>
  std::uint32_t bits = 0;
  bool operator==(const GetSpecial&) const = default;
};
// Anything else: logged as LOG text for the job.
struct Text {
  std::string text;
  bool operator==(const Text&) const = default;
};
// A known keyword whose arguments are wrong (`ItemsProcessed -3`, `WINDOW 0`, `BYE x`): a
// protocol error the scheduler logs; `reason` says what was expected.
struct Malformed {
  std::string line;
  std::string reason;
  bool operator==(const Malformed&) const = default;
};
}  // namespace msg

using AgentMessage =
    std::variant<msg::Ok, msg::Heartbeat, msg::ItemsProcessed, msg::Log, msg::Db, msg::JqSubs,
                 msg::Success, msg::Window, msg::Version, msg::Heart, msg::Bye, msg::Email,
                 msg::Special, msg::GetSpecial, msg::Text, msg::Malformed>;

// Parses one line an agent wrote. Blank lines (empty or only white space) give std::nullopt.
// Keywords are matched as whole tokens, numbers with range checks; a trailing '\r' is ignored.
// In the Seed dialect the Fossology-only keywords are Text, and the other way round, except
// `VERSION:` which is recognised in both (it is how the dialect is detected). Never throws.
// The keyword is the first token (from byte 0 to a space, tab or the end); numeric arguments
// may be separated by runs of spaces/tabs; free text (log text, SQL, JQ_SUBS value, versions)
// is everything after the single space or tab that follows its keyword (or key), verbatim.
std::optional<AgentMessage> parse_agent_line(std::string_view line, Dialect dialect);

// True when `line` is the first line of a Fossology-dialect agent.
bool starts_fossology_dialect(std::string_view line);

// Formats a message as one line ending in '\n'. Free text has '\n' and '\r' replaced by a
// space so that the result is always exactly one line. Malformed is formatted as its line.
std::string format(const AgentMessage& message);

// ---- Scheduler -> agent ----------------------------------------------------------------------
namespace cmd {
struct DbStart {
  bool operator==(const DbStart&) const = default;
};
struct DbRow {  // one row line of a DB: reply (see Row below)
  std::string line;
  bool operator==(const DbRow&) const = default;
};
struct DbEof {
  bool operator==(const DbEof&) const = default;
};
struct DbError {
  std::string message;
  bool operator==(const DbError&) const = default;
};
// Fossology dialect.
struct End {
  bool operator==(const End&) const = default;
};
struct Close {
  bool operator==(const Close&) const = default;
};
struct Verbose {
  int level = 0;
  bool operator==(const Verbose&) const = default;
};
struct Value {
  int value = 0;
  bool operator==(const Value&) const = default;
};
// A data line (jq_args or a row line): any bytes except '\n'.
struct Data {
  std::string line;
  bool operator==(const Data&) const = default;
};
}  // namespace cmd

// What an agent reads while waiting for a DB: reply: DBSTART, row lines, DBEOF or DBERROR.
using DbReply = std::variant<cmd::DbStart, cmd::DbRow, cmd::DbEof, cmd::DbError>;
DbReply parse_db_reply_line(std::string_view line);
std::string format(const DbReply& reply);

// What a Fossology-dialect agent reads: END, CLOSE, VERBOSE n, VALUE: n, or data.
using FossologyCommand = std::variant<cmd::End, cmd::Close, cmd::Verbose, cmd::Value, cmd::Data>;
FossologyCommand parse_fossology_command(std::string_view line);
std::string format(const FossologyCommand& command);

// Formats a data line for an agent. Returns std::nullopt (the caller reports why) when the
// text holds a '\n' or is longer than max_line_bytes: it could not arrive as one line.
std::optional<std::string> format_data_line(std::string_view text);

// ---- Row lines (SPEC §2.4) -------------------------------------------------------------------
// `col='value' col='value' ...`; inside quotes `\` and `'` are escaped with a backslash,
// newline as \n, tab as \t, carriage return as \r; NULL is `col=` with nothing after '='.
struct Field {
  std::string name;
  std::optional<std::string> value;  // nullopt = SQL NULL (distinct from "")
  bool operator==(const Field&) const = default;
};
struct Row {
  std::vector<Field> fields;
  // The field called `name`, or nullptr.
  const Field* find(std::string_view name) const;
  bool operator==(const Row&) const = default;
};

// Column names must be non-empty and hold no space, '=', '\'' or control byte; values any bytes.
std::string format_row(const Row& row);  // no '\n'
// format_row one field at a time, for rows that are not in a Row (e.g. straight from a query
// result): appends `name='value'` (nullopt: `name=`) to `line`, after a space unless `line` is
// empty.
void append_field(std::string& line, std::string_view name, std::optional<std::string_view> value);

struct RowParse {
  std::optional<Row> row;  // set on success
  std::string error;       // why it failed, with the byte offset
};
// Also accepts runs of spaces between fields and at either end; an empty line is zero fields.
RowParse parse_row(std::string_view line);

// ---- Line framing ----------------------------------------------------------------------------
// Splits a byte stream into lines with a bounded buffer. A line longer than `max_bytes` is cut:
// its first max_bytes are delivered with `cut = true` and the rest up to the next '\n' dropped.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_bytes = max_line_bytes) : max_(max_bytes) {}

  struct Line {
    std::string text;  // without '\n'
    bool cut = false;  // longer than max_bytes; text holds its first max_bytes
  };

  // Appends `bytes`; complete lines are appended to `out` in order.
  void feed(std::string_view bytes, std::vector<Line>& out);
  // Bytes of an unfinished last line (what a writer killed mid-line left behind).
  std::string_view partial() const { return buf_; }
  void clear_partial() {
    buf_.clear();
    discarding_ = false;
  }

 private:
  std::size_t max_;
  std::string buf_;
  bool discarding_ = false;  // inside an overlong line, dropping bytes until '\n'
};

}  // namespace agent::protocol
