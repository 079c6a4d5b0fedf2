// libFuzzer target for the line codec: parse_agent_line in both dialects, DB replies,
// Fossology commands, format_data_line and LineSplitter. Never crashes, and:
// - a line parses to nullopt exactly when it is blank;
// - format() always gives exactly one '\n'-terminated line;
// - for lines without '\n' or '\r': parse(format(parse(x))) == parse(x);
// - for any line, one format/parse pass reaches a fixed point;
// - LineSplitter gives the same lines whether the input arrives whole or in two chunks.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocol.hpp"

namespace {

using namespace agent::protocol;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

std::string_view strip_newline(const std::string& line) {
  require(!line.empty() && line.back() == '\n', "formatted line ends in \\n");
  require(line.find('\n') == line.size() - 1, "formatted line is one line");
  return std::string_view(line).substr(0, line.size() - 1);
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

void check_agent_line(std::string_view line, Dialect dialect, bool plain) {
  const auto first = parse_agent_line(line, dialect);
  std::string_view bare = line;
  if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
  require(first.has_value() != is_blank(bare), "nullopt exactly for blank lines");
  if (!first) return;
  const std::string once = format(*first);
  const auto second = parse_agent_line(strip_newline(once), dialect);
  if (plain) require(second == first, "parse(format(parse(x))) == parse(x)");
  if (!second) return;  // a text of only '\r's became blank
  const auto third = parse_agent_line(strip_newline(format(*second)), dialect);
  require(third == second, "format/parse reaches a fixed point");
}

void check_scheduler_lines(std::string_view line, bool plain) {
  const DbReply reply = parse_db_reply_line(line);
  const DbReply reply2 = parse_db_reply_line(strip_newline(format(reply)));
  if (plain) require(reply2 == reply, "DB reply round trip");
  const FossologyCommand command = parse_fossology_command(line);
  const FossologyCommand command2 = parse_fossology_command(strip_newline(format(command)));
  if (plain) require(command2 == command, "Fossology command round trip");

  const auto data = format_data_line(line);
  const bool fits = line.size() <= max_line_bytes && line.find('\n') == std::string_view::npos;
  require(data.has_value() == fits, "format_data_line accepts exactly one-line text");
  if (data) require(*data == std::string(line) + "\n", "format_data_line appends \\n");
}

void check_splitter(std::string_view bytes) {
  const std::size_t max = bytes.empty() ? 1 : 1 + static_cast<unsigned char>(bytes[0]) % 32;
  LineSplitter whole(max), halves(max);
  std::vector<LineSplitter::Line> a, b;
  whole.feed(bytes, a);
  halves.feed(bytes.substr(0, bytes.size() / 3), b);
  halves.feed(bytes.substr(bytes.size() / 3), b);
  require(a.size() == b.size(), "same number of lines for any chunking");
  for (std::size_t i = 0; i < a.size(); ++i) {
    require(a[i].text == b[i].text && a[i].cut == b[i].cut, "same lines for any chunking");
    require(a[i].text.size() <= max, "lines are bounded");
  }
  require(whole.partial() == halves.partial(), "same tail for any chunking");
  require(whole.partial().size() <= max, "tail is bounded");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const bool plain = line.find_first_of("\r\n") == std::string_view::npos;
  check_agent_line(line, Dialect::Seed, plain);
  check_agent_line(line, Dialect::Fossology, plain);
  (void)starts_fossology_dialect(line);
  check_scheduler_lines(line, plain);
  check_splitter(line);
  return 0;
}
