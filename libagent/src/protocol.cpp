// The message codec of the line protocol (SPEC §2.1–§2.3, §2.5): pure parse and format
// functions over single lines, shared by the scheduler and libagent. No I/O, no state.
//
// Lexical rules, the same for every keyword:
// - a single trailing '\r' is dropped first (CRLF agents); a line of only spaces, tabs and
//   '\r' is blank;
// - the keyword is the first token, starting at byte 0 and ending at a space, a tab or the end
//   of the line; it must equal a keyword exactly (`OKAY`, `OK1`, `DB:x` are not keywords);
// - numeric arguments are separated by runs of spaces/tabs, trailing spaces/tabs are ignored;
//   numbers are decimal, without '+', range-checked;
// - a free-text argument (log text, SQL, versions, JQ_SUBS values) is everything after the one
//   space or tab that follows its keyword (or key), verbatim: further spaces belong to the text.
#include <array>
#include <charconv>
#include <string>
#include <string_view>
#include <utility>

#include "agent/protocol.hpp"

namespace agent::protocol {
namespace {

bool is_sep(char c) {
  return c == ' ' || c == '\t';
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (!is_sep(c) && c != '\r') return false;
  }
  return true;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view skip_seps(std::string_view s) {
  while (!s.empty() && is_sep(s.front())) s.remove_prefix(1);
  return s;
}

// The first token of `s` and what follows it (starting with its separator, if any).
std::pair<std::string_view, std::string_view> split_token(std::string_view s) {
  std::size_t end = 0;
  while (end < s.size() && !is_sep(s[end])) ++end;
  return {s.substr(0, end), s.substr(end)};
}

// The free text after a keyword: what follows its one separator.
std::string text_after(std::string_view after) {
  return after.empty() ? std::string() : std::string(after.substr(1));
}

// Up to N numeric arguments; `count` is how many there were (N + 1 means "too many").
template <std::size_t N>
struct Args {
  std::array<std::string_view, N> items{};
  std::size_t count = 0;
};

template <std::size_t N>
Args<N> split_args(std::string_view after) {
  Args<N> args;
  for (after = skip_seps(after); !after.empty(); after = skip_seps(after)) {
    auto [token, rest] = split_token(after);
    if (args.count >= N) {
      args.count = N + 1;
      break;
    }
    if constexpr (N > 0) args.items[args.count] = token;
    ++args.count;
    after = rest;
  }
  return args;
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T value{};
  if (s.empty()) return std::nullopt;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value, 10);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<bool> parse_flag(std::string_view s) {
  if (s == "0") return false;
  if (s == "1") return true;
  return std::nullopt;
}

msg::Malformed malformed(std::string_view line, std::string reason) {
  return msg::Malformed{std::string(line), std::move(reason)};
}

// ---- keyword parsers: (whole line, text after the keyword) -> message -----------------------
using KeywordParser = AgentMessage (*)(std::string_view line, std::string_view after);
struct Keyword {
  std::string_view word;
  KeywordParser parse;
};

template <class T>
AgentMessage no_args(std::string_view line, std::string_view after) {
  if (split_args<0>(after).count != 0) return malformed(line, "this keyword takes no arguments");
  return T{};
}

template <Level L>
AgentMessage log_line(std::string_view, std::string_view after) {
  return msg::Log{L, text_after(after)};
}

AgentMessage items_processed(std::string_view line, std::string_view after) {
  auto args = split_args<1>(after);
  std::optional<std::uint64_t> n;
  if (args.count == 1) n = parse_number<std::uint64_t>(args.items[0]);
  if (!n) return malformed(line, "expected `ItemsProcessed <n>` with n a decimal integer >= 0");
  return msg::ItemsProcessed{*n};
}

AgentMessage db(std::string_view line, std::string_view after) {
  std::string sql = text_after(after);
  if (is_blank(sql)) return malformed(line, "expected `DB: <sql>` with a non-empty statement");
  return msg::Db{std::move(sql)};
}

AgentMessage jq_subs(std::string_view line, std::string_view after) {
  auto [key, rest] = split_token(skip_seps(after));
  if (key.empty() || rest.empty()) {
    return malformed(line, "expected `JQ_SUBS <key> <value>`");
  }
  return msg::JqSubs{std::string(key), text_after(rest)};
}

AgentMessage window(std::string_view line, std::string_view after) {
  auto args = split_args<1>(after);
  std::optional<unsigned> n;
  if (args.count == 1) n = parse_number<unsigned>(args.items[0]);
  if (!n || *n < min_window || *n > max_window) {
    return malformed(line, "expected `WINDOW <n>` with n from 1 to 1024");
  }
  return msg::Window{*n};
}

AgentMessage version(std::string_view, std::string_view after) {
  return msg::Version{text_after(after)};
}

AgentMessage heart(std::string_view line, std::string_view after) {
  auto args = split_args<2>(after);
  std::optional<std::uint64_t> items;
  std::optional<bool> alive = false;  // 2.0-alpha agents sent only the item count
  if (args.count == 1 || args.count == 2) items = parse_number<std::uint64_t>(args.items[0]);
  if (args.count == 2) alive = parse_flag(args.items[1]);
  if (!items || !alive) {
    return malformed(line, "expected `HEART: <items> <0|1>` with items a decimal integer >= 0");
  }
  return msg::Heart{*items, *alive};
}

AgentMessage bye(std::string_view line, std::string_view after) {
  auto args = split_args<1>(after);
  std::optional<int> rc;
  if (args.count == 1) rc = parse_number<int>(args.items[0]);
  if (!rc) return malformed(line, "expected `BYE <rc>` with rc a decimal integer");
  return msg::Bye{*rc};
}

AgentMessage email(std::string_view, std::string_view after) {
  return msg::Email{text_after(after)};
}

AgentMessage special(std::string_view line, std::string_view after) {
  auto args = split_args<2>(after);
  std::optional<std::uint32_t> bits;
  std::optional<bool> value;
  if (args.count == 2) {
    bits = parse_number<std::uint32_t>(args.items[0]);
    value = parse_flag(args.items[1]);
  }
  if (!bits || !value) return malformed(line, "expected `SPECIAL: <bits> <0|1>`");
  return msg::Special{*bits, *value};
}

AgentMessage get_special(std::string_view line, std::string_view after) {
  auto args = split_args<1>(after);
  std::optional<std::uint32_t> bits;
  if (args.count == 1) bits = parse_number<std::uint32_t>(args.items[0]);
  if (!bits) return malformed(line, "expected `GETSPECIAL: <bits>`");
  return msg::GetSpecial{*bits};
}

constexpr Keyword seed_keywords[] = {
    {"OK", no_args<msg::Ok>},
    {"Heartbeat", no_args<msg::Heartbeat>},
    {"ItemsProcessed", items_processed},
    {"FATAL", log_line<Level::Fatal>},
    {"FATAL:", log_line<Level::Fatal>},
    {"ERROR", log_line<Level::Error>},
    {"ERROR:", log_line<Level::Error>},
    {"WARNING", log_line<Level::Warning>},
    {"WARNING:", log_line<Level::Warning>},
    {"LOG", log_line<Level::Log>},
    {"LOG:", log_line<Level::Log>},
    {"ECHO", log_line<Level::Echo>},
    {"ECHO:", log_line<Level::Echo>},
    {"DB:", db},
    {"JQ_SUBS", jq_subs},
    {"Success", no_args<msg::Success>},
    {"WINDOW", window},
    {"VERSION:", version},
};

constexpr Keyword fossology_keywords[] = {
    {"VERSION:", version},
    {"OK", no_args<msg::Ok>},
    {"HEART:", heart},
    {"BYE", bye},
    {"EMAIL", email},
    {"SPECIAL:", special},
    {"GETSPECIAL:", get_special},
};

template <std::size_t N>
AgentMessage dispatch(const Keyword (&table)[N], std::string_view line) {
  auto [word, after] = split_token(line);
  for (const Keyword& keyword : table) {
    if (keyword.word == word) return keyword.parse(line, after);
  }
  return msg::Text{std::string(line)};
}

// Free text made safe for one line: '\n' and '\r' become spaces.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// `keyword` alone, or `keyword text` when there is text; then '\n'.
std::string with_text(std::string_view keyword, std::string_view text) {
  std::string out(keyword);
  if (!text.empty()) {
    out += ' ';
    out += one_line(text);
  }
  out += '\n';
  return out;
}

std::string level_keyword(Level level) {
  switch (level) {
    case Level::Fatal:
      return "FATAL:";
    case Level::Error:
      return "ERROR:";
    case Level::Warning:
      return "WARNING:";
    case Level::Log:
      return "LOG:";
    case Level::Echo:
      return "ECHO:";
  }
  return "LOG:";
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

std::optional<AgentMessage> parse_agent_line(std::string_view line, Dialect dialect) {
  line = strip_cr(line);
  if (is_blank(line)) return std::nullopt;
  switch (dialect) {
    case Dialect::Seed:
      return dispatch(seed_keywords, line);
    case Dialect::Fossology:
      return dispatch(fossology_keywords, line);
  }
  return msg::Text{std::string(line)};
}

bool starts_fossology_dialect(std::string_view line) {
  return split_token(strip_cr(line)).first == "VERSION:";
}

std::string format(const AgentMessage& message) {
  using std::to_string;
  return std::visit(
      Overloaded{
          [](const msg::Ok&) { return std::string("OK\n"); },
          [](const msg::Heartbeat&) { return std::string("Heartbeat\n"); },
          [](const msg::ItemsProcessed& m) { return "ItemsProcessed " + to_string(m.n) + "\n"; },
          [](const msg::Log& m) { return with_text(level_keyword(m.level), m.text); },
          [](const msg::Db& m) { return with_text("DB:", m.sql); },
          [](const msg::JqSubs& m) {  // the space before the value even when it is empty
            return "JQ_SUBS " + one_line(m.key) + " " + one_line(m.value) + "\n";
          },
          [](const msg::Success&) { return std::string("Success\n"); },
          [](const msg::Window& m) { return "WINDOW " + to_string(m.n) + "\n"; },
          [](const msg::Version& m) { return with_text("VERSION:", m.text); },
          [](const msg::Heart& m) {
            return "HEART: " + to_string(m.items) + (m.alive ? " 1\n" : " 0\n");
          },
          [](const msg::Bye& m) { return "BYE " + to_string(m.rc) + "\n"; },
          [](const msg::Email& m) { return with_text("EMAIL", m.text); },
          [](const msg::Special& m) {
            return "SPECIAL: " + to_string(m.bits) + (m.value ? " 1\n" : " 0\n");
          },
          [](const msg::GetSpecial& m) { return "GETSPECIAL: " + to_string(m.bits) + "\n"; },
          [](const msg::Text& m) { return one_line(m.text) + "\n"; },
          [](const msg::Malformed& m) { return one_line(m.line) + "\n"; },
      },
      message);
}

DbReply parse_db_reply_line(std::string_view line) {
  std::string_view bare = strip_cr(line);
  auto [word, after] = split_token(bare);
  if (word == "DBSTART" && is_blank(after)) return cmd::DbStart{};
  if (word == "DBEOF" && is_blank(after)) return cmd::DbEof{};
  if (word == "DBERROR") return cmd::DbError{text_after(after)};
  return cmd::DbRow{std::string(line)};
}

std::string format(const DbReply& reply) {
  return std::visit(Overloaded{
                        [](const cmd::DbStart&) { return std::string("DBSTART\n"); },
                        [](const cmd::DbRow& r) { return one_line(r.line) + "\n"; },
                        [](const cmd::DbEof&) { return std::string("DBEOF\n"); },
                        [](const cmd::DbError& e) { return with_text("DBERROR", e.message); },
                    },
                    reply);
}

FossologyCommand parse_fossology_command(std::string_view line) {
  std::string_view bare = strip_cr(line);
  auto [word, after] = split_token(bare);
  if (word == "END" && is_blank(after)) return cmd::End{};
  if (word == "CLOSE" && is_blank(after)) return cmd::Close{};
  if (word == "VERBOSE" || word == "VALUE:") {
    auto args = split_args<1>(after);
    std::optional<int> n;
    if (args.count == 1) n = parse_number<int>(args.items[0]);
    if (n && word == "VERBOSE") return cmd::Verbose{*n};
    if (n) return cmd::Value{*n};
  }
  return cmd::Data{std::string(line)};
}

std::string format(const FossologyCommand& command) {
  using std::to_string;
  return std::visit(
      Overloaded{
          [](const cmd::End&) { return std::string("END\n"); },
          [](const cmd::Close&) { return std::string("CLOSE\n"); },
          [](const cmd::Verbose& v) { return "VERBOSE " + to_string(v.level) + "\n"; },
          [](const cmd::Value& v) { return "VALUE: " + to_string(v.value) + "\n"; },
          [](const cmd::Data& d) { return one_line(d.line) + "\n"; },
      },
      command);
}

std::optional<std::string> format_data_line(std::string_view text) {
  if (text.size() > max_line_bytes || text.find('\n') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() + 1);
  out.append(text);
  out += '\n';
  return out;
}

}  // namespace agent::protocol
