// libFuzzer target for row lines (SPEC §2.4). Never crashes, and:
// - parse_row either gives a row or an error naming a byte offset;
// - a parsed row formats to a line that parses to the same row, and that line is canonical
//   (formatting it again gives the same bytes);
// - a row built from the fuzz input (valid names, any bytes as values, NULLs) round-trips.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/protocol.hpp"

namespace {

using namespace agent::protocol;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void check_parse(std::string_view line) {
  const RowParse first = parse_row(line);
  if (!first.row) {
    require(first.error.find(" at byte ") != std::string::npos, "errors name a byte offset");
    return;
  }
  require(first.error.empty(), "no error on success");
  const std::string canonical = format_row(*first.row);
  require(canonical.find('\n') == std::string::npos, "a row line is one line");
  const RowParse second = parse_row(canonical);
  require(second.row == first.row, "parse(format(parse(x))) == parse(x)");
  require(format_row(*second.row) == canonical, "format is canonical");
}

// Makes any bytes a valid column name: non-empty, no space, '=', '\'' or control byte.
std::string valid_name(std::string name) {
  for (char& c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == ' ' || c == '=' || c == '\'') c = '_';
  }
  return name.empty() ? std::string("c") : name;
}

void check_built_row(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  Row row;
  while (input.remaining_bytes() > 0 && row.fields.size() < 64) {
    Field field;
    field.name = valid_name(input.ConsumeRandomLengthString(16));
    if (input.ConsumeBool()) field.value = input.ConsumeRandomLengthString(256);
    row.fields.push_back(std::move(field));
  }
  const RowParse back = parse_row(format_row(row));
  require(back.row.has_value(), "a formatted row parses");
  require(*back.row == row, "parse(format(row)) == row");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_parse(std::string_view(reinterpret_cast<const char*>(data), size));
  check_built_row(data, size);
  return 0;
}
