// The license detector (license_detect.hpp).
// - Tags: the expression after `SPDX-License-Identifier:` is split into ids, operators and
//   parentheses; ids are checked against the SPDX lists (deprecated GNU ids such as GPL-2.0+
//   become GPL-2.0-or-later); unknown ids are returned apart and never reported as licenses.
// - Texts and notices: the text is normalised (lower case, every run of non-alphanumeric bytes
//   one space, so comment markers and line breaks vanish) and searched for key phrases of each
//   license, taken from its official text (/usr/share/common-licenses for the ones Debian
//   ships). A license matches when all its phrases are there and none of its excluding ones.
//   GNU notices are read for their version and "or (at your option) any later version".
#include "license_detect.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace license {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The normalised text and, for each of its bytes, the offset of the source byte.
struct Normal {
  std::string text;
  std::vector<std::size_t> at;
};

Normal normal_form(std::string_view s) {
  Normal n;
  n.text.reserve(s.size());
  n.at.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_alnum(s[i])) {
      n.text += lower(s[i]);
      n.at.push_back(i);
    } else if (!n.text.empty() && n.text.back() != ' ') {
      n.text += ' ';
      n.at.push_back(i);
    }
  }
  return n;
}

// Source range of the normalised range [b, e).
std::pair<std::size_t, std::size_t> source_range(const Normal& n, std::size_t b, std::size_t e) {
  while (e > b && n.text[e - 1] == ' ') --e;
  return {n.at[b], n.at[e - 1] + 1};
}

// ---- texts and notices by key phrases --------------------------------------------------------

struct Rule {
  std::string_view id;
  Source source;
  std::vector<std::string_view> all;   // phrases that must all be there
  std::vector<std::string_view> none;  // phrases that must not
};

const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = {
      {"MIT",
       Source::Text,
       {"Permission is hereby granted, free of charge, to any person obtaining a copy of this "
        "software",
        "shall be included in all copies or substantial portions of the Software"},
       {}},
      {"BSD-3-Clause",
       Source::Text,
       {"Redistribution and use in source and binary forms, with or without modification, are "
        "permitted provided that",
        "Redistributions of source code must retain the above copyright notice",
        "Redistributions in binary form must reproduce the above copyright notice",
        "endorse or promote products derived from this software"},
       {"advertising materials mentioning"}},
      {"BSD-2-Clause",
       Source::Text,
       {"Redistribution and use in source and binary forms, with or without modification, are "
        "permitted provided that",
        "Redistributions of source code must retain the above copyright notice",
        "Redistributions in binary form must reproduce the above copyright notice"},
       {"advertising materials mentioning", "endorse or promote products derived from this"}},
      {"Apache-2.0",
       Source::Text,
       {"Apache License Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"},
       {}},
      {"Apache-2.0", Source::Notice, {"under the Apache License, Version 2.0"}, {}},
      {"GPL-1.0-only",
       Source::Text,
       {"GNU GENERAL PUBLIC LICENSE Version 1, February 1989", "TERMS AND CONDITIONS"},
       {}},
      {"GPL-2.0-only",
       Source::Text,
       {"GNU GENERAL PUBLIC LICENSE Version 2, June 1991",
        "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION"},
       {}},
      {"GPL-3.0-only",
       Source::Text,
       {"GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007", "TERMS AND CONDITIONS"},
       {}},
      {"LGPL-2.0-only",
       Source::Text,
       {"GNU LIBRARY GENERAL PUBLIC LICENSE Version 2, June 1991", "TERMS AND CONDITIONS"},
       {}},
      {"LGPL-2.1-only",
       Source::Text,
       {"GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999", "TERMS AND CONDITIONS"},
       {}},
      {"LGPL-3.0-only",
       Source::Text,
       {"GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
        "incorporates the terms and conditions of version 3 of the GNU General Public License"},
       {}},
      {"MPL-2.0",
       Source::Text,
       {"Mozilla Public License Version 2.0",
        "means each individual or legal entity that creates, contributes to the creation of, or "
        "owns Covered Software"},
       {}},
      {"MPL-2.0",
       Source::Notice,
       {"This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0"},
       {}},
      {"ISC",
       Source::Text,
       {"Permission to use, copy, modify, and/or distribute this software for any purpose with or "
        "without fee is hereby granted, provided that the above copyright notice and this "
        "permission notice appear in all copies"},
       {}},
      {"ISC",
       Source::Text,
       {"Permission to use, copy, modify, and distribute this software for any purpose with or "
        "without fee is hereby granted, provided that the above copyright notice and this "
        "permission notice appear in all copies",
        "THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES"},
       {}},
      {"BSL-1.0",
       Source::Text,
       {"Boost Software License - Version 1.0 - August 17th, 2003",
        "Permission is hereby granted, free of charge, to any person or organization obtaining a "
        "copy of the software"},
       {}},
      {"BSL-1.0",
       Source::Notice,
       {"Distributed under the Boost Software License, Version 1.0"},
       {}},
      {"Zlib",
       Source::Text,
       {"The origin of this software must not be misrepresented; you must not claim that you "
        "wrote the original software",
        "Altered source versions must be plainly marked as such",
        "This notice may not be removed or altered from any source distribution"},
       {}},
      {"CC0-1.0", Source::Text, {"Creative Commons Legal Code", "CC0 1.0 Universal"}, {}},
      {"CC0-1.0",
       Source::Notice,
       {"To the extent possible under law",
        "has waived all copyright and related or neighboring rights to"},
       {}},
      {"CC0-1.0", Source::Notice, {"creativecommons.org/publicdomain/zero/1.0"}, {}},
  };
  return r;
}

struct CompiledRule {
  const Rule* rule;
  std::vector<std::string> all, none;
};

const std::vector<CompiledRule>& compiled_rules() {
  static const std::vector<CompiledRule> c = [] {
    std::vector<CompiledRule> out;
    for (const Rule& r : rules()) {
      CompiledRule cr{&r, {}, {}};
      for (auto p : r.all) cr.all.push_back(normalize(p));
      for (auto p : r.none) cr.none.push_back(normalize(p));
      out.push_back(std::move(cr));
    }
    return out;
  }();
  return c;
}

// Finds `phrase` at word boundaries in the normalised text.
std::size_t find_phrase(const std::string& text, std::string_view phrase, std::size_t from = 0) {
  for (std::size_t p = text.find(phrase, from); p != std::string::npos;
       p = text.find(phrase, p + 1)) {
    const bool left = p == 0 || text[p - 1] == ' ';
    const std::size_t e = p + phrase.size();
    const bool right = e == text.size() || text[e] == ' ';
    if (left && right) return p;
  }
  return std::string::npos;
}

void match_rules(const Normal& n, std::vector<Match>& out) {
  for (const CompiledRule& cr : compiled_rules()) {
    std::size_t b = std::string::npos, e = 0;
    bool ok = true;
    for (const std::string& p : cr.all) {
      const std::size_t at = find_phrase(n.text, p);
      if (at == std::string::npos) {
        ok = false;
        break;
      }
      b = std::min(b, at);
      e = std::max(e, at + p.size());
    }
    if (!ok) continue;
    for (const std::string& p : cr.none) {
      if (find_phrase(n.text, p) != std::string::npos) ok = false;
    }
    if (!ok) continue;
    auto [s, t] = source_range(n, b, e);
    out.push_back({std::string(cr.rule->id), cr.rule->source, s, t, 0});
  }
}

// GNU notices: "<license> as published by the Free Software Foundation; either version N of
// the License, or (at your option) any later version".
void match_gnu_notices(const Normal& n, std::vector<Match>& out) {
  struct Family {
    std::string_view anchor, prefix;
  };
  static const std::array<Family, 4> families = {{
      {"gnu general public license as published by the free software foundation", "GPL"},
      {"gnu lesser general public license as published by the free software foundation", "LGPL"},
      {"gnu library general public license as published by the free software foundation", "LGPL"},
      {"gnu affero general public license as published by the free software foundation", "AGPL"},
  }};
  constexpr std::size_t window = 160;  // normalised bytes after the anchor
  for (const Family& f : families) {
    for (std::size_t a = find_phrase(n.text, f.anchor); a != std::string::npos;
         a = find_phrase(n.text, f.anchor, a + 1)) {
      const std::size_t w0 = a + f.anchor.size();
      const std::string_view w = std::string_view(n.text).substr(w0, window);
      const std::size_t v = w.find("version ");
      if (v == std::string_view::npos) continue;  // no version: not reported
      std::string_view num = w.substr(v + 8);
      std::string version;
      if (num.substr(0, 4) == "2 1 ")
        version = "2.1";
      else if (num.substr(0, 2) == "2 ")
        version = f.prefix == "LGPL" ? "2.0" : "2.0";
      else if (num.substr(0, 2) == "3 ")
        version = "3.0";
      else if (num.substr(0, 2) == "1 ")
        version = "1.0";
      else
        continue;
      std::size_t end = w0 + v + 8 + (version == "2.1" ? 3 : 1);
      const std::size_t later = w.find("any later version");
      const bool or_later = later != std::string_view::npos;
      if (or_later) end = w0 + later + 17;
      if (f.prefix == "AGPL" && version != "3.0") continue;
      if (f.prefix == "LGPL" && version == "1.0") continue;
      const std::string id =
          std::string(f.prefix) + "-" + version + (or_later ? "-or-later" : "-only");
      auto [s, t] = source_range(n, a, end);
      out.push_back({id, Source::Notice, s, t, 0});
    }
  }
}

// ---- SPDX-License-Identifier ---------------------------------------------------------------

bool id_char(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '+' || c == ':';
}

// A license id as the SPDX lists have it, or nullopt. `plus` is a trailing '+' (or later).
std::optional<std::string> resolve_license(std::string_view id, const SpdxList& spdx) {
  if (id.empty()) return std::nullopt;
  const bool plus = id.back() == '+';
  if (plus) id.remove_suffix(1);
  std::string low(id);
  for (char& c : low) c = lower(c);
  if (low.rfind("licenseref-", 0) == 0 || low.rfind("documentref-", 0) == 0)
    return std::string(id) + (plus ? "+" : "");
  if (auto known = spdx.license(id)) return *known + (plus ? "+" : "");
  if (auto old = spdx.deprecated(id)) {
    // GPL-2.0 / GPL-2.0+ and friends: today's -only / -or-later ids.
    const std::string modern = *old + (plus ? "-or-later" : "-only");
    if (auto m = spdx.license(modern)) return *m;
    return *old + (plus ? "+" : "");
  }
  return std::nullopt;
}

void match_tags(std::string_view text, const std::string& low, const SpdxList& spdx, Detection& d) {
  static constexpr std::string_view tag = "spdx-license-identifier";
  for (std::size_t p = low.find(tag); p != std::string::npos; p = low.find(tag, p + 1)) {
    std::size_t i = p + tag.size();
    const std::size_t eol = std::min(text.find('\n', i), text.size());
    while (i < eol && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= eol || text[i] != ':') continue;
    ++i;
    // Tokens: ids, AND/OR/WITH, parentheses; anything else ends the expression.
    bool with = false;
    std::optional<Match> last;  // the license a WITH applies to
    while (i < eol) {
      const char c = text[i];
      if (c == ' ' || c == '\t' || c == '(' || c == ')') {
        ++i;
        continue;
      }
      if (!id_char(c)) break;
      std::size_t e = i;
      while (e < eol && id_char(text[e])) ++e;
      const std::string_view word = text.substr(i, e - i);
      std::string lw(word);
      for (char& ch : lw) ch = lower(ch);
      if (lw == "and" || lw == "or") {
        with = false;
      } else if (lw == "with") {
        with = true;
      } else if (with) {
        with = false;
        if (auto ex = spdx.exception(word); ex && last) {
          d.matches.back().id += " WITH " + *ex;
          d.matches.back().end = e;
        } else if (!ex) {
          d.unknown.emplace_back(word);
        }
      } else if (auto id = resolve_license(word, spdx)) {
        last = Match{*id, Source::Tag, i, e, 0};
        d.matches.push_back(*last);
      } else {
        last.reset();
        d.unknown.emplace_back(word);
      }
      i = e;
    }
  }
}

// Drops the notices of a GNU license whose full text is there: its text ends with a sample
// notice ("How to Apply These Terms"), which is not a second license.
void drop_sample_notices(std::vector<Match>& m) {
  std::vector<std::string> bases;
  for (const Match& x : m) {
    if (x.source == Source::Text && x.id.size() > 5 && x.id.ends_with("-only"))
      bases.push_back(x.id.substr(0, x.id.size() - 5) + "-");
  }
  std::erase_if(m, [&](const Match& x) {
    return x.source == Source::Notice &&
           std::any_of(bases.begin(), bases.end(), [&](auto& b) { return x.id.rfind(b, 0) == 0; });
  });
}

}  // namespace

std::string normalize(std::string_view text) {
  return normal_form(text).text;
}

std::string_view full_name(std::string_view id) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> names = {{
      {"MIT", "MIT License"},
      {"BSD-2-Clause", "BSD 2-Clause \"Simplified\" License"},
      {"BSD-3-Clause", "BSD 3-Clause \"New\" or \"Revised\" License"},
      {"Apache-2.0", "Apache License 2.0"},
      {"GPL-2.0-only", "GNU General Public License v2.0 only"},
      {"GPL-2.0-or-later", "GNU General Public License v2.0 or later"},
      {"GPL-3.0-only", "GNU General Public License v3.0 only"},
      {"GPL-3.0-or-later", "GNU General Public License v3.0 or later"},
      {"LGPL-2.0-only", "GNU Library General Public License v2 only"},
      {"LGPL-2.0-or-later", "GNU Library General Public License v2 or later"},
      {"LGPL-2.1-only", "GNU Lesser General Public License v2.1 only"},
      {"LGPL-2.1-or-later", "GNU Lesser General Public License v2.1 or later"},
      {"LGPL-3.0-only", "GNU Lesser General Public License v3.0 only"},
      {"LGPL-3.0-or-later", "GNU Lesser General Public License v3.0 or later"},
      {"AGPL-3.0-only", "GNU Affero General Public License v3.0 only"},
      {"AGPL-3.0-or-later", "GNU Affero General Public License v3.0 or later"},
      {"MPL-2.0", "Mozilla Public License 2.0"},
      {"ISC", "ISC License"},
      {"BSL-1.0", "Boost Software License 1.0"},
      {"Zlib", "zlib License"},
  }};
  if (id == "CC0-1.0") return "Creative Commons Zero v1.0 Universal";
  for (const auto& [k, v] : names)
    if (k == id) return v;
  return "";
}

Detection detect(std::string_view text, const SpdxList& spdx) {
  Detection d;
  std::string low(text);
  for (char& c : low) c = lower(c);
  match_tags(text, low, spdx, d);
  const Normal n = normal_form(text);
  match_rules(n, d.matches);
  match_gnu_notices(n, d.matches);
  drop_sample_notices(d.matches);
  // One match per id: the first in the file.
  std::stable_sort(d.matches.begin(), d.matches.end(),
                   [](const Match& a, const Match& b) { return a.start < b.start; });
  std::vector<Match> unique;
  for (Match& m : d.matches) {
    if (std::none_of(unique.begin(), unique.end(), [&](const Match& u) { return u.id == m.id; }))
      unique.push_back(std::move(m));
  }
  std::size_t line = 1, pos = 0;
  for (Match& m : unique) {
    line += static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                                text.begin() + static_cast<std::ptrdiff_t>(m.start),
                                                '\n'));
    pos = m.start;
    m.line = line;
  }
  d.matches = std::move(unique);
  return d;
}

}  // namespace license
