// Row lines (SPEC §2.4): an SQL result row as `col='value' col= ...`, exact for any bytes.
// format_row writes the canonical form (single spaces, NULL as `col=`); parse_row reads it and
// also accepts runs of spaces between fields and at either end. Pure functions, no state.
#include <string>
#include <string_view>

#include "agent/protocol.hpp"

namespace agent::protocol {

const Field* Row::find(std::string_view name) const {
  for (const Field& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

namespace {

void append_quoted(std::string& out, std::string_view value) {
  out += '\'';
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '\'';
}

bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// A cursor over one row line; the first error stops it and is kept with its byte offset.
class RowReader {
 public:
  explicit RowReader(std::string_view line) : line_(line) {}

  RowParse read() {
    Row row;
    skip_spaces();
    while (!at_end()) {
      Field field;
      if (!read_name(field.name) || !read_value(field.value)) return {std::nullopt, error_};
      row.fields.push_back(std::move(field));
      if (!at_end() && line_[pos_] != ' ') {
        fail("expected a space after the closing quote", pos_);
        return {std::nullopt, error_};
      }
      skip_spaces();
    }
    return {std::move(row), {}};
  }

 private:
  bool at_end() const { return pos_ >= line_.size(); }
  void skip_spaces() {
    while (!at_end() && line_[pos_] == ' ') ++pos_;
  }

  bool fail(std::string_view reason, std::size_t at) {
    error_ = std::string(reason) + " at byte " + std::to_string(at);
    return false;
  }

  bool read_name(std::string& name) {
    const std::size_t start = pos_;
    for (; !at_end() && line_[pos_] != '='; ++pos_) {
      const char c = line_[pos_];
      if (c == ' ') return fail("missing '=' after the column name", pos_);
      if (c == '\'') return fail("quote in a column name", pos_);
      if (is_control(c)) return fail("control byte in a column name", pos_);
    }
    if (at_end()) return fail("missing '=' after the column name", pos_);
    if (pos_ == start) return fail("empty column name", pos_);
    name.assign(line_.substr(start, pos_ - start));
    ++pos_;  // '='
    return true;
  }

  bool read_value(std::optional<std::string>& value) {
    if (at_end() || line_[pos_] == ' ') {
      value.reset();  // SQL NULL
      return true;
    }
    if (line_[pos_] != '\'') return fail("expected a quote or a space after '='", pos_);
    const std::size_t open = pos_++;
    std::string text;
    while (!at_end()) {
      const char c = line_[pos_];
      if (c == '\'') {
        ++pos_;
        value = std::move(text);
        return true;
      }
      if (c == '\\') {
        if (pos_ + 1 >= line_.size()) break;
        if (!unescape(line_[pos_ + 1], text)) return fail("bad escape sequence", pos_);
        pos_ += 2;
      } else {
        text += c;
        ++pos_;
      }
    }
    return fail("unterminated quote", open);
  }

  static bool unescape(char c, std::string& out) {
    switch (c) {
      case '\\':
      case '\'':
        out += c;
        return true;
      case 'n':
        out += '\n';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'r':
        out += '\r';
        return true;
      default:
        return false;
    }
  }

  std::string_view line_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

void append_field(std::string& line, std::string_view name, std::optional<std::string_view> value) {
  if (!line.empty()) line += ' ';
  line += name;
  line += '=';
  if (value) append_quoted(line, *value);
}

std::string format_row(const Row& row) {
  std::string out;
  for (const Field& field : row.fields) append_field(out, field.name, field.value);
  return out;
}

RowParse parse_row(std::string_view line) {
  return RowReader(line).read();
}

}  // namespace agent::protocol
