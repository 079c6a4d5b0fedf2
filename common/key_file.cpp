// KeyFile reading helpers (key_file.hpp): value parsers with range checks, file reading.
#include "key_file.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace fs = std::filesystem;

namespace sched::keyfile {

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r\n\f\v";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string one_line(std::string_view text) {
  std::string line;
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    if (ch == '\n')
      line += "\\n";
    else if (ch == '\r')
      line += "\\r";
    else if ((byte < 0x20 && ch != '\t') || byte == 0x7f)
      line += fmt::format("\\x{:02x}", byte);
    else
      line += ch;
  }
  return line;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<long long> parse_int(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<unsigned> parse_hex_byte(std::string_view s) {
  unsigned v = 0;
  if (s.size() != 2) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + 2, v, 16);
  if (ec != std::errc() || p != s.data() + 2) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string v(trim(s));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  // (A directory opens, then reads as empty.)
  int error = !in ? errno : fs::is_directory(path) ? EISDIR : 0;
  if (error != 0) {
    throw ConfigError(fmt::format("{}: cannot read the file: {}; expected a readable file", path,
                                  std::strerror(error)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `value` as an absolute path: relative paths are taken relative to `base`.
std::string resolve(const std::string& base, const std::string& value) {
  if (value.empty() || fs::path(value).is_absolute()) return value;
  return (fs::path(base) / value).lexically_normal().string();
}

void read_seconds(const Reader& r, const std::string& g, const std::string& k,
                  std::chrono::milliseconds& out, bool zero_ok) {
  auto v = r.string(g, k);
  if (!v) return;
  std::string expected = fmt::format("a number of seconds {} 0 (fractions allowed, at most {})",
                                     zero_ok ? ">=" : ">", static_cast<long long>(kMaxSeconds));
  auto secs = parse_number(*v);
  if (!secs) r.fail(g, k, fmt::format("'{}' is not a number", *v), expected);
  auto ms = std::llround(*secs * 1000.0);
  if (*secs < 0 || *secs > kMaxSeconds || (!zero_ok && ms <= 0)) {
    r.fail(g, k, fmt::format("'{}' is out of range", *v), expected);
  }
  out = std::chrono::milliseconds(ms);
}

int read_int(const Reader& r, const std::string& g, const std::string& k, std::string_view text,
             long long lo, long long hi) {
  std::string expected = hi == std::numeric_limits<int>::max()
                             ? fmt::format("an integer >= {}", lo)
                             : fmt::format("an integer from {} to {}", lo, hi);
  auto v = parse_int(text);
  if (!v) r.fail(g, k, fmt::format("'{}' is not an integer", text), expected);
  if (*v < lo || *v > hi) r.fail(g, k, fmt::format("'{}' is out of range", text), expected);
  return static_cast<int>(*v);
}

void read_int_key(const Reader& r, const std::string& g, const std::string& k, int& out,
                  long long lo, long long hi) {
  if (auto v = r.string(g, k)) out = read_int(r, g, k, *v, lo, hi);
}

std::vector<std::string> shell_split(const Reader& r, const std::string& g, const std::string& k,
                                     const std::string& text) {
  gint argc = 0;
  gchar** argv = nullptr;
  GError* raw = nullptr;
  if (!g_shell_parse_argv(text.c_str(), &argc, &argv, &raw)) {
    GErrorPtr err(raw);
    r.fail(g, k, fmt::format("'{}': {}", text, err->message),
           "a command line (words, \"quoted\" or 'quoted')");
  }
  std::unique_ptr<gchar*, StrvFree> own(argv);
  return std::vector<std::string>(argv, argv + argc);
}

}  // namespace sched::keyfile
