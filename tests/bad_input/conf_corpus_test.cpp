// The conf loader's fuzz properties (tests/fuzz/conf_invariants.hpp) over every file of the
// fuzz target's seed corpus, tests/fuzz/corpus/conf/: the corpus is replayed in every build,
// not only in the clang fuzz build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "conf_invariants.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;

TEST(ConfCorpus, EveryInputLoadsOrFailsWithOneLineNamingFileAndLine) {
  fs::path corpus = fs::path(test::source_dir()) / "tests/fuzz/corpus/conf";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    test::TempDir dir;
    EXPECT_EQ(fuzzcheck::conf_violation(dir.path(), bytes.str()), "");
    ++n;
  }
  EXPECT_GE(n, 20) << "the seed corpus is in " << corpus;
}

// The seeds split as the fuzz target splits them, and a broken file is reported, not loaded.
TEST(ConfCorpus, InputsSplitIntoTheThreeFiles) {
  auto files = fuzzcheck::split_conf_input("[hosts]\n%%\n[default]\n%%\ndbname=x;\n%%\nmore\n");
  ASSERT_EQ(files.parts.size(), 3u);
  EXPECT_EQ(files.parts[0], "[hosts]\n");
  EXPECT_EQ(files.parts[1], "[default]\n");
  EXPECT_EQ(files.parts[2], "dbname=x;\n%%\nmore\n");
  EXPECT_EQ(fuzzcheck::split_conf_input("").parts.size(), 1u);
  test::TempDir dir;
  EXPECT_EQ(fuzzcheck::conf_violation(dir.path(), "[hosts]\nh = localhost /a 1\nport = 1\\n2\n"),
            "");
}

// The check itself catches what it is for.
TEST(ConfCorpus, TheCheckRejectsMessagesThatDoNotNameFileAndLine) {
  const std::vector<std::pair<std::string, int>> files{{"/d/scheduler.conf", 3}};
  EXPECT_EQ(fuzzcheck::where_violation("/d/scheduler.conf:3: [hosts]: x", files), "");
  EXPECT_EQ(fuzzcheck::where_violation("/d/scheduler.conf: cannot read", files), "");
  EXPECT_EQ(fuzzcheck::where_violation("/d/scheduler.conf:4: x", files),
            "the line is inside the file");
  EXPECT_EQ(fuzzcheck::where_violation("/d/scheduler.conf:2: 'a\nb'", files),
            "a message is one line");
  EXPECT_EQ(fuzzcheck::where_violation("port: bad", files),
            "a message starts with the file it is about");
}

}  // namespace
