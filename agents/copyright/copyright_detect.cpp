// The copyright detector (copyright_detect.hpp). Hand-written scanning rather than std::regex:
// one pass over a lower-cased copy per keyword, which keeps a file at a few microseconds
// (the agent aims at thousands of files a second, tests/bench/scan_bench.cpp).
#include "copyright_detect.hpp"

#include <algorithm>
#include <array>

namespace copyright {
namespace {

constexpr std::size_t max_statement = 1024;

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
char lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Words that follow "copyright" in prose about copyright rather than in a statement.
bool is_prose_word(std::string_view w) {
  static constexpr std::array<std::string_view, 40> words = {
      "notice",     "notices", "holder",      "holders",     "owner",      "owners",
      "law",        "laws",    "statement",   "statements",  "license",    "licence",
      "licensing",  "act",     "the",         "this",        "and",        "or",
      "of",         "to",      "in",          "for",         "is",         "on",
      "protection", "info",    "information", "status",      "permission", "assignment",
      "claim",      "claims",  "disclaimer",  "header",      "text",       "year",
      "years",      "date",    "file",        "infringement"};
  return std::find(words.begin(), words.end(), w) != words.end();
}

struct Line {
  std::size_t begin, end;  // [begin, end) without the '\n'
};

// Skips spaces, ':' and further copyright markers after the keyword; sets `symbol` when a
// © or (c) was among them.
std::size_t skip_markers(std::string_view text, std::string_view low, std::size_t p,
                         std::size_t end, bool& symbol) {
  for (;;) {
    while (p < end && (is_space(text[p]) || text[p] == ':')) ++p;
    if (low.substr(p, 3) == "(c)" && p + 3 <= end) {
      symbol = true;
      p += 3;
    } else if (text.substr(p, 2) == "\xC2\xA9" && p + 2 <= end) {
      symbol = true;
      p += 2;
    } else if (low.substr(p, 9) == "copyright" && p + 9 <= end) {
      p += 9;
    } else {
      return p;
    }
  }
}

// Years and ranges: digits, ',', '-', spaces (e.g. "1999, 2001-2004,").
std::size_t skip_years(std::string_view text, std::size_t p, std::size_t end) {
  std::size_t q = p;
  while (q < end && (is_digit(text[q]) || text[q] == ',' || text[q] == '-' || is_space(text[q]))) {
    if (is_digit(text[q])) {  // a number glued to letters ("4Front") is a name, not a year
      std::size_t d = q;
      while (d < end && is_digit(text[d])) ++d;
      if (d < end && is_alpha(text[d])) return q;
      q = d;
    } else if (text[q] == '-' && q + 1 < end && is_alpha(text[q + 1])) {
      // "2008-present", "2010-now": an open range is still years
      std::size_t w = q + 1;
      while (w < end && is_alpha(text[w])) ++w;
      const std::string word = lowered(text.substr(q + 1, w - q - 1));
      if (word != "present" && word != "now" && word != "today") return q;
      q = w;
    } else {
      ++q;
    }
  }
  return q;
}

// The end of a statement's content: the line end minus trailing spaces and comment closers.
std::size_t trim_end(std::string_view text, std::size_t begin, std::size_t end) {
  for (;;) {
    while (end > begin && is_space(text[end - 1])) --end;
    if (end - begin >= 2 && text.substr(end - 2, 2) == "*/") {
      end -= 2;
    } else if (end - begin >= 3 && text.substr(end - 3, 3) == "-->") {
      end -= 3;
    } else if (end > begin && (text[end - 1] == '*' || text[end - 1] == '#' ||
                               text[end - 1] == '"' || text[end - 1] == '\\')) {
      --end;
    } else {
      return end;
    }
  }
}

// The holder: what follows the years, without "by", e-mail addresses in <>, "All rights
// reserved" and trailing punctuation.
std::string holder_of(std::string_view s) {
  std::string low = lowered(s);
  if (auto r = low.find("all rights reserved"); r != std::string::npos) s = s.substr(0, r);
  std::string out;
  bool in_angle = false;
  for (char c : s) {
    if (c == '<') in_angle = true;
    if (!in_angle) out += is_space(c) ? ' ' : c;
    if (c == '>') in_angle = false;
  }
  // Bare e-mail addresses are not part of the name.
  for (std::size_t at = out.find('@'); at != std::string::npos; at = out.find('@')) {
    std::size_t b = out.rfind(' ', at), e = out.find(' ', at);
    b = b == std::string::npos ? 0 : b;
    out.erase(b, (e == std::string::npos ? out.size() : e) - b);
  }
  auto trim = [&] {
    while (!out.empty() && (out.back() == ' ' || out.back() == ',' || out.back() == ';' ||
                            out.back() == ':' || out.back() == '-'))
      out.pop_back();
    while (!out.empty() && (out.front() == ' ' || out.front() == ',')) out.erase(0, 1);
  };
  trim();
  if (lowered(out.substr(0, 3)) == "by ") out.erase(0, 3);
  if (out.size() > 4 && lowered(out.substr(out.size() - 4)) == " and") out.resize(out.size() - 4);
  // A final '.' goes unless it ends an abbreviation such as "Inc." or "Ltd.".
  if (!out.empty() && out.back() == '.') {
    const std::size_t word = out.find_last_of(' ', out.size() - 1);
    const std::size_t w0 = word == std::string::npos ? 0 : word + 1;
    const bool abbreviation = out.size() - 1 - w0 <= 3 && is_upper(out[w0]);
    if (!abbreviation) out.pop_back();
  }
  trim();
  // Collapse runs of spaces (left by removed addresses).
  out.erase(
      std::unique(out.begin(), out.end(), [](char a, char b) { return a == ' ' && b == ' '; }),
      out.end());
  return out;
}

// A statement starting at `k` (a keyword of length `klen`) on `line`, if it is one.
bool statement_at(std::string_view text, std::string_view low, const Line& line, std::size_t k,
                  std::size_t klen, bool symbol, Finding& f) {
  // "debian/copyright", "d/copyright: Update ..." (changelogs): a file's name, not a statement.
  if (k > 0 && (text[k - 1] == '/' || text[k - 1] == '.')) return false;
  bool sym = symbol;
  std::size_t p = skip_markers(text, low, k + klen, line.end, sym);
  if (p >= line.end) return false;
  const std::size_t after_years = skip_years(text, p, line.end);
  const bool year = after_years > p && is_digit(text[p]);
  // A bare "(c)" (not after "Copyright") is also a list item's label — "(c) You must
  // retain…": it is a statement only before a year.
  if (!year && klen == 3 && text[k] == '(') return false;
  if (!year) {
    if (!is_alnum(text[p])) return false;
    std::size_t w = p;
    while (w < line.end && is_alpha(text[w])) ++w;
    const std::string word = lowered(text.substr(p, w - p));
    if (!sym) {
      if (!is_upper(text[p]) && !is_digit(text[p])) return false;
      // Without a year or a symbol, a statement starts "Copyright"/"COPYRIGHT": "copyright:
      // Update ..." is a changelog's subject.
      if (is_alpha(text[k]) && !is_upper(text[k])) return false;
      // "Copyright The Foo Authors" is a statement; "copyright the software" is not.
      const bool the_name = word == "the" && w + 1 < line.end && is_upper(text[w + 1]);
      if (is_prose_word(word) && !the_name) return false;
    }
    if (word == "by" && !sym) return false;
  }
  std::size_t end = trim_end(text, k, line.end);
  if (end - k > max_statement) end = k + max_statement;
  if (end <= p) return false;
  f.kind = Kind::Statement;
  f.start = k;
  f.end = end;
  f.content = std::string(text.substr(k, end - k));
  f.holder = holder_of(text.substr(std::min(after_years, end), end - std::min(after_years, end)));
  return true;
}

// The first copyright keyword in the line at or after `from`: its offset, length, and whether
// it is a symbol; false when there is none.
bool find_keyword(std::string_view text, std::string_view low, const Line& line, std::size_t from,
                  std::size_t& at, std::size_t& len, bool& symbol) {
  for (std::size_t p = from; p < line.end; ++p) {
    const char c = low[p];
    if (c == 'c' && low.substr(p, 9) == "copyright" && p + 9 <= line.end) {
      if ((p > line.begin && is_alnum(text[p - 1])) || (p + 9 < line.end && is_alpha(text[p + 9])))
        continue;  // part of a word: "copyrighted", "mycopyright"
      at = p, len = 9, symbol = false;
      return true;
    }
    if (c == '\xC2' && low.substr(p, 2) == "\xC2\xA9") {
      at = p, len = 2, symbol = true;
      return true;
    }
    if (c == '(' && low.substr(p, 3) == "(c)" && p + 3 <= line.end &&
        !(p > line.begin && (is_alnum(text[p - 1]) || text[p - 1] == '_'))) {
      at = p, len = 3, symbol = true;
      return true;
    }
  }
  return false;
}

// A statement with no holder yet, or ending in ',', goes on to the next line when that line
// holds only text (the holder, or more years and holders): "Copyright (c) 1983, 1990\n *
// The Regents of the University of California." One line at most.
void extend(std::string_view text, std::string_view low, std::size_t next, Finding& f) {
  const bool and_end =
      f.content.size() > 4 && lowered(f.content.substr(f.content.size() - 4)) == " and";
  if (!f.holder.empty() && f.content.back() != ',' && !and_end) return;
  std::size_t e = text.find('\n', next);
  if (e == std::string_view::npos) e = text.size();
  std::size_t b = next;
  while (b < e && (is_space(text[b]) || text[b] == '*' || text[b] == '#' || text[b] == '/' ||
                   text[b] == ';' || text[b] == '-' || text[b] == '!'))
    ++b;
  const std::size_t t = trim_end(text, b, e);
  if (t <= b || t - b > 200 || f.content.size() + (t - next) > max_statement) return;
  const Line line{b, t};
  std::size_t at = 0, len = 0;
  bool symbol = false;
  if (find_keyword(text, low, line, b, at, len, symbol)) return;  // a statement of its own
  const std::string first = lowered(text.substr(b, std::min<std::size_t>(t - b, 12)));
  // A postal address is not a holder ("51 Franklin Street, Fifth Floor, Boston").
  const std::string rest = lowered(text.substr(b, t - b));
  for (std::string_view address : {" street", " floor", " suite ", " usa", "p.o. box"}) {
    if (rest.find(address) != std::string::npos) return;
  }
  for (std::string_view stop : {"all rights", "license", "licence", "permission", "this ",
                                "redistribut", "spdx", "the above", "see "}) {
    if (first.rfind(stop, 0) == 0) return;
  }
  if (!is_alnum(text[b])) return;
  f.holder =
      holder_of(std::string(f.holder.empty() ? "" : f.holder + (and_end ? " and " : ", ")) +
                std::string(text.substr(skip_years(text, b, t), t - skip_years(text, b, t))));
  f.end = t;
  f.content = std::string(text.substr(f.start, t - f.start));
}

void find_statements(std::string_view text, std::string_view low, std::vector<Finding>& out) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t nl = text.find('\n', begin);
    const Line line{begin, nl == std::string_view::npos ? text.size() : nl};
    std::size_t from = line.begin, at = 0, len = 0;
    bool symbol = false;
    while (find_keyword(text, low, line, from, at, len, symbol)) {
      Finding f;
      if (statement_at(text, low, line, at, len, symbol, f)) {
        if (nl != std::string_view::npos) extend(text, low, nl + 1, f);
        if (f.end > line.end) nl = text.find('\n', f.end);  // the next line is taken
        out.push_back(std::move(f));
        break;  // one statement per line: the rest of the line belongs to it
      }
      from = at + len;
    }
    if (nl == std::string_view::npos) break;
    begin = nl + 1;
  }
}

bool url_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '<' && c != '>' && c != '"' && c != '\'' && c != '`' &&
         c != '{' && c != '}' && c != '|' && c != '\\' && c != '^' && c != '[' && c != ']';
}

void find_urls(std::string_view text, std::string_view low, std::vector<Finding>& out) {
  static constexpr std::array<std::string_view, 3> schemes = {"http://", "https://", "ftp://"};
  for (std::size_t p = low.find("://"); p != std::string_view::npos; p = low.find("://", p + 3)) {
    for (std::string_view scheme : schemes) {
      const std::size_t n = scheme.size() - 3;  // letters before "://"
      if (p < n || low.substr(p - n, scheme.size()) != scheme) continue;
      const std::size_t s = p - n;
      if (s > 0 && is_alpha(text[s - 1])) continue;
      std::size_t e = p + 3;
      int parens = 0;
      while (e < text.size() && url_char(text[e]) && (text[e] != ')' || parens > 0)) {
        parens += text[e] == '(' ? 1 : text[e] == ')' ? -1 : 0;
        ++e;
      }
      while (e > p + 3 && std::string_view(".,;:!?*").find(text[e - 1]) != std::string_view::npos)
        --e;
      if (e > p + 3 && is_alnum(text[p + 3])) {
        out.push_back({Kind::Url, std::string(text.substr(s, e - s)), "", s, e, 0});
      }
      break;
    }
  }
}

bool local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool domain_char(char c) {
  return is_alnum(c) || c == '.' || c == '-';
}

void find_emails(std::string_view text, std::vector<Finding>& out,
                 const std::vector<Finding>& urls) {
  for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    std::size_t s = at;
    while (s > 0 && local_char(text[s - 1]) && at - s < 64) --s;
    while (s < at && (text[s] == '.' || text[s] == '-')) ++s;
    std::size_t e = at + 1;
    while (e < text.size() && domain_char(text[e]) && e - at < 255) ++e;
    while (e > at + 1 && (text[e - 1] == '.' || text[e - 1] == '-')) --e;
    if (s == at || e == at + 1) continue;
    const std::string_view domain = text.substr(at + 1, e - at - 1);
    const std::size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || domain.size() - dot - 1 < 2) continue;
    const std::string_view tld = domain.substr(dot + 1);
    if (!std::all_of(tld.begin(), tld.end(), is_alpha)) continue;
    const bool in_url = std::any_of(urls.begin(), urls.end(),
                                    [&](const Finding& u) { return s < u.end && u.start < e; });
    if (in_url) continue;
    out.push_back({Kind::Email, std::string(text.substr(s, e - s)), "", s, e, 0});
  }
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::Statement:
      return "statement";
    case Kind::Email:
      return "email";
    case Kind::Url:
      return "url";
  }
  return "statement";
}

std::vector<Finding> detect(std::string_view text) {
  const std::string low = lowered(text);
  std::vector<Finding> out;
  find_statements(text, low, out);
  std::vector<Finding> urls;
  find_urls(text, low, urls);
  find_emails(text, out, urls);
  out.insert(out.end(), urls.begin(), urls.end());
  std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return a.start != b.start ? a.start < b.start : a.kind < b.kind;
  });
  // Lines, in one pass over the sorted offsets.
  std::size_t line = 1, pos = 0;
  for (Finding& f : out) {
    line += static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                                text.begin() + static_cast<std::ptrdiff_t>(f.start),
                                                '\n'));
    pos = f.start;
    f.line = line;
  }
  return out;
}

}  // namespace copyright
