// Unit tests of the message codec (agent/protocol.hpp, SPEC §2): table-driven parse tests for
// both dialects, DB replies and Fossology commands, exact format tests, and round trips.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/protocol.hpp"

namespace {

using namespace agent::protocol;
using std::string_literals::operator""s;

constexpr const char* kind_names[] = {
    "Ok",      "Heartbeat",  "ItemsProcessed", "Log",      "Db",  "JqSubs",
    "Success", "Window",     "Version",        "Heart",    "Bye", "Email",
    "Special", "GetSpecial", "Text",           "Malformed"};
static_assert(std::size(kind_names) == std::variant_size_v<AgentMessage>);

std::string show(const std::optional<AgentMessage>& m) {
  if (!m) return "nullopt";
  std::string out = std::string(kind_names[m->index()]) + " `" + format(*m) + "`";
  if (const auto* bad = std::get_if<msg::Malformed>(&*m)) out += " (" + bad->reason + ")";
  return out;
}

// Marks a line the parser must reject: Malformed with this line and a non-empty reason.
struct Bad {};
using Expected = std::variant<std::optional<AgentMessage>, Bad>;

struct Case {
  std::string line;
  Expected expected;
};

void check(const std::vector<Case>& cases, Dialect dialect) {
  for (const Case& c : cases) {
    SCOPED_TRACE("line `" + c.line + "`");
    const std::optional<AgentMessage> got = parse_agent_line(c.line, dialect);
    if (std::holds_alternative<Bad>(c.expected)) {
      ASSERT_TRUE(got.has_value());
      const auto* bad = std::get_if<msg::Malformed>(&*got);
      ASSERT_NE(bad, nullptr) << show(got);
      std::string bare = c.line;
      if (!bare.empty() && bare.back() == '\r') bare.pop_back();
      EXPECT_EQ(bad->line, bare);
      EXPECT_FALSE(bad->reason.empty());
    } else {
      const auto& want = std::get<std::optional<AgentMessage>>(c.expected);
      EXPECT_TRUE(got == want) << "got " << show(got) << ", want " << show(want);
    }
  }
}

Expected text(std::string t) {
  return AgentMessage{msg::Text{std::move(t)}};
}
Expected log(Level level, std::string t) {
  return AgentMessage{msg::Log{level, std::move(t)}};
}
Expected items(std::uint64_t n) {
  return AgentMessage{msg::ItemsProcessed{n}};
}
const Expected blank = std::optional<AgentMessage>{};
const Expected bad = Bad{};

TEST(ProtocolSeed, SimpleKeywords) {
  check({{"OK", AgentMessage{msg::Ok{}}},
         {"OK\r", AgentMessage{msg::Ok{}}},
         {"OK  \t", AgentMessage{msg::Ok{}}},
         {"Heartbeat", AgentMessage{msg::Heartbeat{}}},
         {"Success", AgentMessage{msg::Success{}}},
         {"OK foo", bad},
         {"Heartbeat 1", bad},
         {"Success now", bad}},
        Dialect::Seed);
}

TEST(ProtocolSeed, WholeTokenMatching) {
  check({{"OKAY", text("OKAY")},
         {"OK1", text("OK1")},
         {"ok", text("ok")},
         {" OK", text(" OK")},
         {"Heartbeats", text("Heartbeats")},
         {"ItemsProcessedX 3", text("ItemsProcessedX 3")},
         {"ERRORS happen", text("ERRORS happen")},
         {"fatal: lower case", text("fatal: lower case")},
         {"FATAL:no space", text("FATAL:no space")},
         {"DB:SELECT 1", text("DB:SELECT 1")},
         {"DB SELECT 1", text("DB SELECT 1")},
         {"WINDOWS 4", text("WINDOWS 4")},
         {"hello world", text("hello world")},
         {"a\0b"s, text("a\0b"s)}},
        Dialect::Seed);
}

TEST(ProtocolSeed, BlankLines) {
  check({{"", blank}, {" ", blank}, {"\t \r", blank}, {"\r", blank}, {"\r\r", blank}},
        Dialect::Seed);
  EXPECT_FALSE(parse_agent_line("  \t ", Dialect::Fossology).has_value());
}

TEST(ProtocolSeed, ItemsProcessed) {
  check({{"ItemsProcessed 0", items(0)},
         {"ItemsProcessed 42", items(42)},
         {"ItemsProcessed 18446744073709551615", items(18446744073709551615u)},
         {"ItemsProcessed  7", items(7)},
         {"ItemsProcessed\t7", items(7)},
         {"ItemsProcessed 007", items(7)},
         {"ItemsProcessed 3 ", items(3)},
         {"ItemsProcessed 3\r", items(3)},
         {"ItemsProcessed", bad},
         {"ItemsProcessed ", bad},
         {"ItemsProcessed -1", bad},
         {"ItemsProcessed 5x", bad},
         {"ItemsProcessed 1 2", bad},
         {"ItemsProcessed +5", bad},
         {"ItemsProcessed 0x10", bad},
         {"ItemsProcessed 1.5", bad},
         {"ItemsProcessed 18446744073709551616", bad},
         {"ItemsProcessed 99999999999999999999999", bad}},
        Dialect::Seed);
}

TEST(ProtocolSeed, LogLevels) {
  check({{"FATAL oops", log(Level::Fatal, "oops")},
         {"FATAL: oops", log(Level::Fatal, "oops")},
         {"FATAL: oops\r", log(Level::Fatal, "oops")},
         {"ERROR", log(Level::Error, "")},
         {"ERROR:", log(Level::Error, "")},
         {"ERROR: ", log(Level::Error, "")},
         {"ERROR: bad thing", log(Level::Error, "bad thing")},
         {"WARNING: disk  full ", log(Level::Warning, "disk  full ")},
         {"WARNING:  two", log(Level::Warning, " two")},
         {"WARNING\tx", log(Level::Warning, "x")},
         {"LOG hello", log(Level::Log, "hello")},
         {"LOG: hello", log(Level::Log, "hello")},
         {"ECHO x", log(Level::Echo, "x")},
         {"ECHO: x", log(Level::Echo, "x")}},
        Dialect::Seed);
}

TEST(ProtocolSeed, DbAndJqSubs) {
  auto subs = [](std::string k, std::string v) {
    return Expected{AgentMessage{msg::JqSubs{std::move(k), std::move(v)}}};
  };
  check({{"DB: SELECT 1", AgentMessage{msg::Db{"SELECT 1"}}},
         {"DB: SELECT 'a  b'\r", AgentMessage{msg::Db{"SELECT 'a  b'"}}},
         {"DB:", bad},
         {"DB: ", bad},
         {"DB: \t  ", bad},
         {"JQ_SUBS $X hello world", subs("$X", "hello world")},
         {"JQ_SUBS k v", subs("k", "v")},
         {"JQ_SUBS  k v", subs("k", "v")},
         {"JQ_SUBS k  v", subs("k", " v")},
         {"JQ_SUBS k ", subs("k", "")},
         {"JQ_SUBS k", bad},
         {"JQ_SUBS", bad},
         {"JQ_SUBS ", bad},
         {"JQ_SUBS   ", bad}},
        Dialect::Seed);
}

TEST(ProtocolSeed, Window) {
  auto window = [](unsigned n) { return Expected{AgentMessage{msg::Window{n}}}; };
  check({{"WINDOW 1", window(1)},
         {"WINDOW 1024", window(1024)},
         {"WINDOW  16 ", window(16)},
         {"WINDOW 0", bad},
         {"WINDOW 1025", bad},
         {"WINDOW", bad},
         {"WINDOW -1", bad},
         {"WINDOW 4294967297", bad},
         {"WINDOW 2 3", bad}},
        Dialect::Seed);
}

TEST(ProtocolSeed, FossologyKeywordsAreText) {
  check({{"VERSION: 4.4.0", AgentMessage{msg::Version{"4.4.0"}}},
         {"HEART: 1 1", text("HEART: 1 1")},
         {"BYE 0", text("BYE 0")},
         {"EMAIL x", text("EMAIL x")},
         {"SPECIAL: 1 1", text("SPECIAL: 1 1")},
         {"GETSPECIAL: 1", text("GETSPECIAL: 1")}},
        Dialect::Seed);
}

TEST(ProtocolSeed, LongLineIsText) {
  const std::string line(max_line_bytes, 'a');
  EXPECT_TRUE(parse_agent_line(line, Dialect::Seed) == AgentMessage{msg::Text{line}});
  const std::string sql = "DB: " + std::string(max_line_bytes - 4, 'x');
  EXPECT_TRUE(parse_agent_line(sql, Dialect::Seed) == AgentMessage{msg::Db{sql.substr(4)}});
}

TEST(ProtocolFossology, Keywords) {
  auto heart = [](std::uint64_t n, bool alive) {
    return Expected{AgentMessage{msg::Heart{n, alive}}};
  };
  auto bye = [](int rc) { return Expected{AgentMessage{msg::Bye{rc}}}; };
  check({{"VERSION: 4.4.0-rc1 build 7", AgentMessage{msg::Version{"4.4.0-rc1 build 7"}}},
         {"VERSION:", AgentMessage{msg::Version{""}}},
         {"OK", AgentMessage{msg::Ok{}}},
         {"OK\r", AgentMessage{msg::Ok{}}},
         {"HEART: 10 1", heart(10, true)},
         {"HEART: 10 0", heart(10, false)},
         {"HEART: 10", heart(10, false)},
         {"HEART:  10\t1 ", heart(10, true)},
         {"HEART: 18446744073709551615 1", heart(18446744073709551615u, true)},
         {"HEART: 10 2", bad},
         {"HEART: -1 1", bad},
         {"HEART:", bad},
         {"HEART: 1 1 1", bad},
         {"HEART: x 1", bad},
         {"BYE 0", bye(0)},
         {"BYE 1", bye(1)},
         {"BYE -1", bye(-1)},
         {"BYE", bad},
         {"BYE x", bad},
         {"BYE +1", bad},
         {"BYE 99999999999", bad},
         {"EMAIL done: 3 files", AgentMessage{msg::Email{"done: 3 files"}}},
         {"EMAIL", AgentMessage{msg::Email{""}}},
         {"SPECIAL: 1 1", AgentMessage{msg::Special{1, true}}},
         {"SPECIAL: 1 0", AgentMessage{msg::Special{1, false}}},
         {"SPECIAL: 1", bad},
         {"SPECIAL: 4294967296 1", bad},
         {"GETSPECIAL: 1", AgentMessage{msg::GetSpecial{1}}},
         {"GETSPECIAL:", bad},
         {"GETSPECIAL: 1 2", bad}},
        Dialect::Fossology);
}

TEST(ProtocolFossology, SeedKeywordsAreText) {
  check({{"Heartbeat", text("Heartbeat")},
         {"ItemsProcessed 3", text("ItemsProcessed 3")},
         {"DB: x", text("DB: x")},
         {"FATAL: x", text("FATAL: x")},
         {"JQ_SUBS a b", text("JQ_SUBS a b")},
         {"WINDOW 4", text("WINDOW 4")},
         {"Success", text("Success")},
         {"HEART 1 1", text("HEART 1 1")},
         {"VERSION:1", text("VERSION:1")}},
        Dialect::Fossology);
}

TEST(Protocol, StartsFossologyDialect) {
  EXPECT_TRUE(starts_fossology_dialect("VERSION: 1.0"));
  EXPECT_TRUE(starts_fossology_dialect("VERSION:"));
  EXPECT_TRUE(starts_fossology_dialect("VERSION:\r"));
  EXPECT_TRUE(starts_fossology_dialect("VERSION:\t2"));
  EXPECT_FALSE(starts_fossology_dialect("VERSION:1.0"));
  EXPECT_FALSE(starts_fossology_dialect("VERSION 1.0"));
  EXPECT_FALSE(starts_fossology_dialect(" VERSION: 1.0"));
  EXPECT_FALSE(starts_fossology_dialect("OK"));
  EXPECT_FALSE(starts_fossology_dialect(""));
}

TEST(Protocol, FormatExactLines) {
  const std::vector<std::pair<AgentMessage, std::string>> cases = {
      {msg::Ok{}, "OK\n"},
      {msg::Heartbeat{}, "Heartbeat\n"},
      {msg::ItemsProcessed{12}, "ItemsProcessed 12\n"},
      {msg::Log{Level::Fatal, "x"}, "FATAL: x\n"},
      {msg::Log{Level::Error, ""}, "ERROR:\n"},
      {msg::Log{Level::Warning, "w"}, "WARNING: w\n"},
      {msg::Log{Level::Log, "l"}, "LOG: l\n"},
      {msg::Log{Level::Echo, "e"}, "ECHO: e\n"},
      {msg::Db{"SELECT\n1"}, "DB: SELECT 1\n"},
      {msg::JqSubs{"$K", "a b"}, "JQ_SUBS $K a b\n"},
      {msg::Success{}, "Success\n"},
      {msg::Window{8}, "WINDOW 8\n"},
      {msg::Version{"1.2"}, "VERSION: 1.2\n"},
      {msg::Heart{3, true}, "HEART: 3 1\n"},
      {msg::Heart{0, false}, "HEART: 0 0\n"},
      {msg::Bye{-2}, "BYE -2\n"},
      {msg::Email{"hi"}, "EMAIL hi\n"},
      {msg::Special{1, true}, "SPECIAL: 1 1\n"},
      {msg::GetSpecial{1}, "GETSPECIAL: 1\n"},
      {msg::Text{"a\nb\rc"}, "a b c\n"},
      {msg::Malformed{"WINDOW 0", "why"}, "WINDOW 0\n"},
  };
  for (const auto& [message, line] : cases) EXPECT_EQ(format(message), line);
}

void expect_round_trip(const AgentMessage& m, Dialect dialect) {
  const std::string line = format(m);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
  const auto back = parse_agent_line(std::string_view(line).substr(0, line.size() - 1), dialect);
  EXPECT_TRUE(back == m) << "format gave `" << line << "`, parsed back as " << show(back);
}

TEST(Protocol, RoundTripSeed) {
  const std::vector<AgentMessage> messages = {
      msg::Ok{},
      msg::Heartbeat{},
      msg::ItemsProcessed{0},
      msg::ItemsProcessed{18446744073709551615u},
      msg::Log{Level::Fatal, "disk full"},
      msg::Log{Level::Error, ""},
      msg::Log{Level::Warning, "  leading and trailing  "},
      msg::Log{Level::Log, "\ttab"},
      msg::Log{Level::Echo, "x"},
      msg::Db{"SELECT * FROM t WHERE a = 'x  y'"},
      msg::JqSubs{"$UPLOAD", "42"},
      msg::JqSubs{"k", " spaced value "},
      msg::JqSubs{"k", ""},
      msg::Success{},
      msg::Window{1},
      msg::Window{1024},
      msg::Version{"4.4.0"},
      msg::Version{""},
      msg::Text{"plain text"},
      msg::Text{" OK"},
      msg::Text{"OKAY"},
      msg::Text{std::string("nul\0byte\xff", 9)},
      msg::Malformed{"ItemsProcessed -1",
                     "expected `ItemsProcessed <n>` with n a decimal "
                     "integer >= 0"},
  };
  for (const AgentMessage& m : messages) expect_round_trip(m, Dialect::Seed);
}

TEST(Protocol, RoundTripFossology) {
  const std::vector<AgentMessage> messages = {
      msg::Version{"4.4.0 (abc123)"},
      msg::Ok{},
      msg::Heart{0, false},
      msg::Heart{12345, true},
      msg::Bye{0},
      msg::Bye{-1},
      msg::Bye{2147483647},
      msg::Email{""},
      msg::Email{"3 files scanned"},
      msg::Special{1, true},
      msg::Special{4294967295u, false},
      msg::GetSpecial{1},
      msg::Text{"Heartbeat"},
      msg::Text{"FATAL: something"},
  };
  for (const AgentMessage& m : messages) expect_round_trip(m, Dialect::Fossology);
}

// Random lines built from keywords, numbers and text: parse(format(parse(x))) == parse(x).
TEST(Protocol, RandomLinesAreStableUnderFormat) {
  const std::vector<std::string> words = {"OK",
                                          "Heartbeat",
                                          "ItemsProcessed",
                                          "FATAL",
                                          "FATAL:",
                                          "ERROR",
                                          "WARNING:",
                                          "LOG",
                                          "ECHO:",
                                          "DB:",
                                          "JQ_SUBS",
                                          "Success",
                                          "WINDOW",
                                          "VERSION:",
                                          "HEART:",
                                          "BYE",
                                          "EMAIL",
                                          "SPECIAL:",
                                          "GETSPECIAL:",
                                          "0",
                                          "1",
                                          "-1",
                                          "1024",
                                          "007",
                                          "x",
                                          "18446744073709551616",
                                          "",
                                          " ",
                                          "\t",
                                          "a b"};
  std::mt19937 rng(20240501);
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    const auto n = rng() % 5;
    for (unsigned k = 0; k < n; ++k) {
      if (k > 0) line += (rng() % 4 == 0) ? "\t" : " ";
      line += words[rng() % words.size()];
    }
    for (Dialect dialect : {Dialect::Seed, Dialect::Fossology}) {
      SCOPED_TRACE("line `" + line + "`");
      const auto first = parse_agent_line(line, dialect);
      if (!first) continue;
      const std::string again = format(*first);
      const auto second =
          parse_agent_line(std::string_view(again).substr(0, again.size() - 1), dialect);
      ASSERT_TRUE(second == first) << show(first) << " became " << show(second);
    }
  }
}

TEST(ProtocolDbReply, Parse) {
  EXPECT_TRUE(parse_db_reply_line("DBSTART") == DbReply{cmd::DbStart{}});
  EXPECT_TRUE(parse_db_reply_line("DBSTART\r") == DbReply{cmd::DbStart{}});
  EXPECT_TRUE(parse_db_reply_line("DBEOF") == DbReply{cmd::DbEof{}});
  EXPECT_TRUE(parse_db_reply_line("DBERROR relation \"t\" does not exist") ==
              DbReply{cmd::DbError{"relation \"t\" does not exist"}});
  EXPECT_TRUE(parse_db_reply_line("DBERROR") == DbReply{cmd::DbError{""}});
  EXPECT_TRUE(parse_db_reply_line("pfile='1' path=") == DbReply{cmd::DbRow{"pfile='1' path="}});
  EXPECT_TRUE(parse_db_reply_line("DBSTARTX") == DbReply{cmd::DbRow{"DBSTARTX"}});
  EXPECT_TRUE(parse_db_reply_line("DBEOF x") == DbReply{cmd::DbRow{"DBEOF x"}});
  EXPECT_TRUE(parse_db_reply_line("") == DbReply{cmd::DbRow{""}});
}

TEST(ProtocolDbReply, FormatAndRoundTrip) {
  EXPECT_EQ(format(DbReply{cmd::DbStart{}}), "DBSTART\n");
  EXPECT_EQ(format(DbReply{cmd::DbEof{}}), "DBEOF\n");
  EXPECT_EQ(format(DbReply{cmd::DbError{"a\nb"}}), "DBERROR a b\n");
  EXPECT_EQ(format(DbReply{cmd::DbRow{"a='1'"}}), "a='1'\n");
  const std::vector<DbReply> replies = {
      cmd::DbStart{},   cmd::DbEof{},
      cmd::DbError{""}, cmd::DbError{"syntax error at or near \"x\""},
      cmd::DbRow{""},   cmd::DbRow{"a='x' b="}};
  for (const DbReply& r : replies) {
    const std::string line = format(r);
    EXPECT_TRUE(parse_db_reply_line(std::string_view(line).substr(0, line.size() - 1)) == r)
        << line;
  }
}

TEST(ProtocolFossologyCommand, ParseFormatRoundTrip) {
  using C = FossologyCommand;
  EXPECT_TRUE(parse_fossology_command("END") == C{cmd::End{}});
  EXPECT_TRUE(parse_fossology_command("END\r") == C{cmd::End{}});
  EXPECT_TRUE(parse_fossology_command("CLOSE") == C{cmd::Close{}});
  EXPECT_TRUE(parse_fossology_command("VERBOSE 3") == C{cmd::Verbose{3}});
  EXPECT_TRUE(parse_fossology_command("VERBOSE -1") == C{cmd::Verbose{-1}});
  EXPECT_TRUE(parse_fossology_command("VALUE: 1") == C{cmd::Value{1}});
  for (const char* data : {"VERBOSE", "VERBOSE x", "VALUE 1", "ENDX", "END now", "42", ""}) {
    EXPECT_TRUE(parse_fossology_command(data) == C{cmd::Data{data}}) << data;
  }
  EXPECT_EQ(format(C{cmd::Value{0}}), "VALUE: 0\n");
  EXPECT_EQ(format(C{cmd::Verbose{2}}), "VERBOSE 2\n");
  EXPECT_EQ(format(C{cmd::Data{"a\nb"}}), "a b\n");
  const std::vector<C> commands = {cmd::End{},       cmd::Close{},  cmd::Verbose{0},
                                   cmd::Verbose{-7}, cmd::Value{1}, cmd::Data{"pfile='3'"},
                                   cmd::Data{""}};
  for (const C& c : commands) {
    const std::string line = format(c);
    EXPECT_TRUE(parse_fossology_command(std::string_view(line).substr(0, line.size() - 1)) == c)
        << line;
  }
}

TEST(Protocol, FormatDataLine) {
  EXPECT_EQ(format_data_line("abc"), "abc\n");
  EXPECT_EQ(format_data_line(""), "\n");
  EXPECT_EQ(format_data_line("a\rb"), "a\rb\n");
  EXPECT_EQ(format_data_line("a\nb"), std::nullopt);
  EXPECT_EQ(format_data_line("\n"), std::nullopt);
  const std::string longest(max_line_bytes, 'x');
  EXPECT_EQ(format_data_line(longest), longest + "\n");
  EXPECT_EQ(format_data_line(longest + "x"), std::nullopt);
}

}  // namespace
