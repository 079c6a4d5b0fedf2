// The detectors on the corpus of real files in tests/data/scan: every license (SPDX id and
// line), copyright statement (line and holder), e-mail address and URL of each file is exactly
// the one listed in tests/data/scan/expected.txt — nothing missing, nothing more. Plus the
// byte ranges (each finding's bytes are where it says), the SPDX list, and edge cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "copyright_detect.hpp"
#include "license_detect.hpp"
#include "scanner.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

std::string corpus() {
  return test::source_dir() + "/tests/data/scan";
}

std::string slurp(const std::string& path) {
  return scanner::read_file(path, scanner::max_scan_bytes);
}

// The findings of both detectors in expected.txt's line format.
std::vector<std::string> describe(const std::string& name, const std::string& text) {
  std::vector<std::string> out;
  for (const auto& m : license::detect(text).matches)
    out.push_back(name + "\tlicense\t" + std::to_string(m.line) + "\t" + m.id);
  for (const auto& f : copyright::detect(text)) {
    const std::string value = f.kind == copyright::Kind::Statement ? f.holder : f.content;
    out.push_back(name + "\t" + std::string(copyright::kind_name(f.kind)) + "\t" +
                  std::to_string(f.line) + "\t" + scanner::to_text(value));
  }
  return out;
}

std::vector<std::string> corpus_files() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(corpus())) {
    const std::string n = e.path().filename().string();
    if (n != "expected.txt" && n != "README.md") names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, std::vector<std::string>> expected() {
  std::map<std::string, std::vector<std::string>> by_file;
  std::ifstream in(corpus() + "/expected.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    by_file[line.substr(0, line.find('\t'))].push_back(line);
  }
  return by_file;
}

TEST(ScanCorpus, EveryFileGivesExactlyTheExpectedFindings) {
  const auto names = corpus_files();
  ASSERT_GE(names.size(), 20u);
  if (std::getenv("JOBLINE_SCAN_REGENERATE")) {
    std::ofstream out(corpus() + "/expected.txt");
    out << "# file\tkind\tline\tvalue (license: SPDX id; statement: holder; email, url: "
           "the text). See README.md.\n";
    for (const auto& n : names)
      for (const auto& l : describe(n, slurp(corpus() + "/" + n))) out << l << '\n';
    GTEST_SKIP() << "expected.txt regenerated: review its diff";
  }
  auto want = expected();
  for (const auto& n : names) {
    auto got = describe(n, slurp(corpus() + "/" + n));
    auto exp = want[n];
    std::sort(got.begin(), got.end());
    std::sort(exp.begin(), exp.end());
    EXPECT_EQ(got, exp) << n;
  }
}

// The licenses per file, spelled out for the ones the brief names (a readable subset of
// expected.txt that cannot drift with a regeneration).
TEST(ScanCorpus, LicensesOfTheReferenceTexts) {
  const std::map<std::string, std::vector<std::string>> cases = {
      {"common-licenses-Apache-2.0", {"Apache-2.0"}},
      {"common-licenses-BSD", {"BSD-3-Clause"}},
      {"common-licenses-CC0-1.0", {"CC0-1.0"}},
      {"common-licenses-GPL-2", {"GPL-2.0-only"}},
      {"common-licenses-GPL-3", {"GPL-3.0-only"}},
      {"common-licenses-LGPL-2.1", {"LGPL-2.1-only"}},
      {"common-licenses-LGPL-3", {"LGPL-3.0-only"}},
      {"common-licenses-MPL-2.0", {"MPL-2.0"}},
      {"libfontenc1.copyright", {"MIT"}},
      {"wayland-egl.h", {"MIT"}},
      {"libonig5.copyright", {"BSD-2-Clause", "GPL-2.0-or-later"}},
      {"distro-info-data.copyright", {"ISC"}},
      {"boost-swap.hpp", {"BSL-1.0"}},
      {"zlib.h", {"Zlib"}},
      {"yq.copyright", {"Apache-2.0"}},
      {"stdio.h", {"LGPL-2.1-or-later"}},
      {"bash.copyright", {"GPL-3.0-or-later", "GPL-2.0-or-later", "BSD-3-Clause"}},
      {"gdk-pixbuf.copyright",
       {"CC0-1.0", "GPL-2.0-or-later", "LGPL-2.0-or-later", "LGPL-2.1-or-later"}},
      {"linux-fuse.h", {"GPL-2.0-only WITH Linux-syscall-note", "BSD-2-Clause"}},
      {"sound-asound_fm.h", {"GPL-2.0-or-later WITH Linux-syscall-note"}},
      {"Python.h", {}},
      {"gcc-README.Bugs", {}},
      {"latin1.txt", {}},
  };
  for (const auto& [file, ids] : cases) {
    std::vector<std::string> got;
    for (const auto& m : license::detect(slurp(corpus() + "/" + file)).matches) got.push_back(m.id);
    EXPECT_EQ(got, ids) << file;
  }
}

TEST(ScanCorpus, ByteRangesHoldWhatWasFound) {
  for (const auto& n : corpus_files()) {
    const std::string text = slurp(corpus() + "/" + n);
    for (const auto& f : copyright::detect(text)) {
      ASSERT_LE(f.end, text.size()) << n;
      EXPECT_EQ(text.substr(f.start, f.end - f.start), f.content) << n << ":" << f.line;
      EXPECT_EQ(std::count(text.begin(), text.begin() + static_cast<long>(f.start), '\n') + 1,
                static_cast<long>(f.line));
    }
    for (const auto& m : license::detect(text).matches) {
      ASSERT_LT(m.start, m.end) << n;
      ASSERT_LE(m.end, text.size()) << n;
    }
  }
}

TEST(LicenseDetect, TagsAreCheckedAgainstTheSpdxLists) {
  const auto d = license::detect(slurp(corpus() + "/spdx-tags.c"));
  std::vector<std::string> ids;
  for (const auto& m : d.matches) ids.push_back(m.id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{"GPL-2.0-or-later", "MIT", "Apache-2.0", "BSD-3-Clause",
                                      "GPL-2.0-only WITH Classpath-exception-2.0",
                                      "LicenseRef-Acme-Proprietary", "ISC", "LGPL-2.1-or-later"}));
  EXPECT_EQ(d.unknown, std::vector<std::string>{"NotALicense-1.0"});
  const auto& first = d.matches.front();
  EXPECT_EQ(first.line, 1u);
  EXPECT_EQ(slurp(corpus() + "/spdx-tags.c").substr(first.start, first.end - first.start),
            "GPL-2.0+");
}

TEST(LicenseDetect, SpdxListIsDebians) {
  const auto& spdx = license::SpdxList::builtin();
  EXPECT_GT(spdx.license_count(), 400u);
  EXPECT_EQ(spdx.license("apache-2.0"), "Apache-2.0");
  EXPECT_EQ(spdx.license("GPL-2.0"), std::nullopt);  // deprecated
  EXPECT_EQ(spdx.deprecated("GPL-2.0"), "GPL-2.0");
  EXPECT_EQ(spdx.exception("linux-syscall-note"), "Linux-syscall-note");
  EXPECT_EQ(spdx.license("Frobnicate-1.0"), std::nullopt);
}

TEST(LicenseDetect, NothingInNothing) {
  EXPECT_TRUE(license::detect("").matches.empty());
  EXPECT_TRUE(license::detect("SPDX-License-Identifier:").matches.empty());
  EXPECT_TRUE(license::detect("int main() { return 0; }\n").matches.empty());
  const std::string binary("\0\x01\xff\xfe MIT SPDX-License-Identifier \0", 30);
  EXPECT_TRUE(license::detect(binary).matches.empty());
}

TEST(CopyrightDetect, ProseIsNotAStatement) {
  for (const char* s :
       {"the above copyright notice", "copyright holders and contributors", "Copyright law",
        "copyrighted material", "f(c) + 1", "copyright the software",
        // changelog entries about the file debian/copyright (seen in /usr/share/doc)
        "  * d/copyright: Update", "  * copyright: Update upstream url.",
        "  * debian/copyright: Updated."}) {
    EXPECT_TRUE(copyright::detect(s).empty()) << s;
  }
  const auto f = copyright::detect("/* Copyright (C) 2001-2003, 2020 Foo Bar <foo@bar.org> */\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].content, "Copyright (C) 2001-2003, 2020 Foo Bar <foo@bar.org>");
  EXPECT_EQ(f[0].holder, "Foo Bar");
  EXPECT_EQ(f[1].kind, copyright::Kind::Email);
  EXPECT_EQ(f[1].content, "foo@bar.org");
}

TEST(CopyrightDetect, UrlsAndEmails) {
  const auto f = copyright::detect(
      "see <https://example.org/a_(b)>, (http://x.org/y). mail a.b-c@d.example.com. "
      "not: @param x, a@b, user@host.c, http:// .\n");
  std::vector<std::string> got;
  for (const auto& x : f)
    got.push_back(std::string(copyright::kind_name(x.kind)) + " " + x.content);
  EXPECT_EQ(got, (std::vector<std::string>{"url https://example.org/a_(b)", "url http://x.org/y",
                                           "email a.b-c@d.example.com"}));
}

TEST(ScannerText, Latin1BecomesUtf8) {
  EXPECT_EQ(scanner::to_text("plain"), "plain");
  EXPECT_EQ(scanner::to_text("J\xc3\xb6rg"), "J\xc3\xb6rg");
  EXPECT_EQ(scanner::to_text("J\xf6rg"), "J\xc3\xb6rg");
  EXPECT_EQ(scanner::to_text(std::string("a\0b", 3)),
            "a\xef\xbf\xbd"
            "b");
}

}  // namespace
