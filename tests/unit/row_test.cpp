// Unit tests of row lines (SPEC §2.4): exact formatting, parsing of good and bad lines with
// error offsets, Row::find, and the round trip over 10,000 random rows of arbitrary bytes.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/protocol.hpp"

namespace {

using namespace agent::protocol;
using std::string_literals::operator""s;

Field null_field(std::string name) {
  return Field{std::move(name), std::nullopt};
}
Field field(std::string name, std::string value) {
  return Field{std::move(name), value};
}

TEST(Row, FormatExact) {
  EXPECT_EQ(format_row(Row{}), "");
  EXPECT_EQ(format_row(Row{{field("a", "1")}}), "a='1'");
  EXPECT_EQ(format_row(Row{{field("a", "1"), null_field("b"), field("c", "")}}), "a='1' b= c=''");
  EXPECT_EQ(format_row(Row{{field("p", "it's a \\ path\n\t\r")}}), R"(p='it\'s a \\ path\n\t\r')");
  EXPECT_EQ(format_row(Row{{field("n", "a\0b\xff"s)}}), "n='a\0b\xff'"s);
  EXPECT_EQ(format_row(Row{{null_field("x"), null_field("y")}}), "x= y=");
}

TEST(Row, ParseGood) {
  struct Case {
    std::string line;
    Row row;
  };
  const std::vector<Case> cases = {
      {"", Row{}},
      {"   ", Row{}},
      {"a='1'", Row{{field("a", "1")}}},
      {"a='1' b= c=''", Row{{field("a", "1"), null_field("b"), field("c", "")}}},
      {"b=", Row{{null_field("b")}}},
      {"b= c=", Row{{null_field("b"), null_field("c")}}},
      {R"(p='it\'s \\ \n\t\r')", Row{{field("p", "it's \\ \n\t\r")}}},
      {"q='a b=c d'", Row{{field("q", "a b=c d")}}},
      {"a='1'  b='2' ", Row{{field("a", "1"), field("b", "2")}}},
      {" a='1'", Row{{field("a", "1")}}},
      {"a='x\0y'"s, Row{{field("a", "x\0y"s)}}},
      {"\xc3\xa9t\xc3\xa9='\xff'", Row{{field("\xc3\xa9t\xc3\xa9", "\xff")}}},
      {"a='1' a='2'", Row{{field("a", "1"), field("a", "2")}}},
      {"weird.name-1$='v'", Row{{field("weird.name-1$", "v")}}},
  };
  for (const Case& c : cases) {
    const RowParse got = parse_row(c.line);
    ASSERT_TRUE(got.row.has_value()) << c.line << ": " << got.error;
    EXPECT_TRUE(*got.row == c.row) << c.line << " parsed as " << format_row(*got.row);
    EXPECT_TRUE(got.error.empty());
  }
}

TEST(Row, ParseBad) {
  struct Case {
    std::string line;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a='1", "unterminated quote at byte 2"},
      {"a='1\\'", "unterminated quote at byte 2"},
      {"a='1\\", "unterminated quote at byte 2"},
      {"a='\\x'", "bad escape sequence at byte 3"},
      {"a='\\0'", "bad escape sequence at byte 3"},
      {"abc", "missing '=' after the column name at byte 3"},
      {"a b='1'", "missing '=' after the column name at byte 1"},
      {"a='1' b", "missing '=' after the column name at byte 7"},
      {"='1'", "empty column name at byte 0"},
      {"a='1' ='2'", "empty column name at byte 6"},
      {"a='1'b='2'", "expected a space after the closing quote at byte 5"},
      {"a='1''", "expected a space after the closing quote at byte 5"},
      {"a=1", "expected a quote or a space after '=' at byte 2"},
      {"a==", "expected a quote or a space after '=' at byte 2"},
      {"it's='1'", "quote in a column name at byte 2"},
      {"a\tb='1'", "control byte in a column name at byte 1"},
      {"a='1'\tb='2'", "expected a space after the closing quote at byte 5"},
  };
  for (const Case& c : cases) {
    const RowParse got = parse_row(c.line);
    EXPECT_FALSE(got.row.has_value()) << c.line;
    EXPECT_EQ(got.error, c.error) << c.line;
  }
}

TEST(Row, Find) {
  const Row row{{field("a", "1"), null_field("b"), field("a", "2")}};
  ASSERT_NE(row.find("a"), nullptr);
  EXPECT_EQ(row.find("a")->value, "1");  // the first of duplicates
  ASSERT_NE(row.find("b"), nullptr);
  EXPECT_FALSE(row.find("b")->value.has_value());
  EXPECT_EQ(row.find("c"), nullptr);
  EXPECT_EQ(row.find(""), nullptr);
  EXPECT_EQ(Row{}.find("a"), nullptr);
}

TEST(Row, NullDistinctFromEmpty) {
  const Row null_row{{null_field("v")}};
  const Row empty_row{{field("v", "")}};
  EXPECT_NE(format_row(null_row), format_row(empty_row));
  EXPECT_TRUE(parse_row(format_row(null_row)).row == null_row);
  EXPECT_TRUE(parse_row(format_row(empty_row)).row == empty_row);
}

// A random valid column name: 1..12 bytes, none of space, '=', '\'' or a control byte.
std::string random_name(std::mt19937& rng) {
  std::string name(1 + rng() % 12, 'x');
  for (char& c : name) {
    unsigned char byte = 0;
    do {
      byte = static_cast<unsigned char>(rng());
    } while (byte < 0x20 || byte == 0x7f || byte == ' ' || byte == '=' || byte == '\'');
    c = static_cast<char>(byte);
  }
  return name;
}

// A random value: any bytes, with the escaped ones over-represented.
std::optional<std::string> random_value(std::mt19937& rng) {
  if (rng() % 6 == 0) return std::nullopt;
  static constexpr char special[] = {'\\', '\'', '\n', '\t', '\r', '\0', ' ', '='};
  std::string value(rng() % 40, '\0');
  for (char& c : value) {
    c = (rng() % 3 == 0) ? special[rng() % sizeof special] : static_cast<char>(rng());
  }
  return value;
}

TEST(Row, RandomRoundTrip) {
  std::mt19937 rng(424242);
  for (int i = 0; i < 10000; ++i) {
    Row row;
    const auto n = rng() % 8;
    for (unsigned k = 0; k < n; ++k) row.fields.push_back({random_name(rng), random_value(rng)});
    const std::string line = format_row(row);
    ASSERT_EQ(line.find('\n'), std::string::npos);
    const RowParse back = parse_row(line);
    ASSERT_TRUE(back.row.has_value()) << "row " << i << ": " << back.error;
    ASSERT_TRUE(*back.row == row) << "row " << i << " did not round-trip: " << line;
  }
}

// Any line that parses formats to a line that parses to the same row.
TEST(Row, RandomLinesStableUnderFormat) {
  std::mt19937 rng(777);
  static constexpr char alphabet[] = {'a', 'b', '=', '\'', '\\', ' ', 'n', 't', 'r', '\0'};
  int parsed = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string line(rng() % 16, 'a');
    for (char& c : line) c = alphabet[rng() % sizeof alphabet];
    const RowParse first = parse_row(line);
    if (!first.row) {
      EXPECT_NE(first.error.find(" at byte "), std::string::npos) << first.error;
      continue;
    }
    ++parsed;
    const RowParse second = parse_row(format_row(*first.row));
    ASSERT_TRUE(second.row == first.row) << "line `" << line << "`";
  }
  EXPECT_GT(parsed, 1000);  // the generator really exercises the success path
}

}  // namespace
