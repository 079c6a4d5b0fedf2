// Unit tests of the logger (common/log.hpp): the line format, level filtering, file
// targets and reopen, and StepLog's path and lines.
#include "log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support.hpp"

namespace {

namespace fs = std::filesystem;
namespace log = sched::log;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Sends the log to a file in a temp dir for one test, and back to stderr after.
class LogToFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/scheduler.log";
    log::open(path_);
    log::set_verbose(0);
  }
  void TearDown() override {
    log::open("stderr");
    log::set_verbose(0);
  }
  std::vector<std::string> lines() const { return lines_of(slurp(path_)); }

  test::TempDir dir_;
  std::string path_;
};

const std::regex kLine(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} scheduler \[(\d+)\] :: )"
                       R"((FATAL|ERROR|WARNING|NOTE|DEBUG): (.*)$)");

TEST(LogFormat, OneLinePerMessage) {
  auto when = std::chrono::system_clock::from_time_t(0);
  std::string out = log::format_line(when, "copyright", 42, log::Level::kWarning, "a\nb\n");
  auto l = lines_of(out);
  ASSERT_EQ(l.size(), 1u);
  std::regex re(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} copyright \[42\] :: WARNING: a b$)");
  EXPECT_TRUE(std::regex_match(l[0], re)) << l[0];
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(log::format_line(when, "s", 1, log::Level::kNote, "").substr(20), "s [1] :: NOTE: \n");
}

// Line breaks and tabs fold to one space (PostgreSQL's messages are several lines, indented
// with tabs); other text, spaces included, is left as it is.
TEST(LogFormat, FoldsLineBreaksAndTabs) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"", ""},
      {"plain text", "plain text"},
      {"two  spaces stay", "two  spaces stay"},
      {"a\nb", "a b"},
      {"a\r\nb", "a b"},
      {"a\tb", "a b"},
      {"a \n\t b", "a b"},
      {"\nleading and trailing\n\n", "leading and trailing"},
      {"  indented", "  indented"},
      {"server closed the connection unexpectedly\n\tThis probably means the server "
       "terminated abnormally\n\tbefore or while processing the request.\n",
       "server closed the connection unexpectedly This probably means the server terminated "
       "abnormally before or while processing the request."},
      {"ERROR:  syntax error at or near \"SELEKT\"\nLINE 1: SELEKT 1\n        ^\n",
       "ERROR:  syntax error at or near \"SELEKT\" LINE 1: SELEKT 1 ^"},
  };
  for (const auto& c : cases) EXPECT_EQ(log::one_line(c.in), c.out) << "input: " << c.in;
}

TEST_F(LogToFile, AMultiLineMessageIsOneLine) {
  log::error("database connection lost: {}",
             "FATAL:  terminating connection due to administrator command\nserver closed the "
             "connection unexpectedly\n\tThis probably means the server terminated abnormally\n");
  log::StepLog step(dir_.path() + "/logs", 9, "copyright");
  step.write(log::Level::kWarning, "feed connection lost: a\n\tb");
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(l[0], m, kLine)) << l[0];
  EXPECT_EQ(m[3],
            "database connection lost: FATAL:  terminating connection due to administrator "
            "command server closed the connection unexpectedly This probably means the server "
            "terminated abnormally");
  auto s = lines_of(slurp(step.path()));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_NE(s[0].find(":: WARNING: feed connection lost: a b"), std::string::npos) << s[0];
}

TEST(LogFormat, LevelNamesAndJobTag) {
  EXPECT_EQ(log::level_name(log::Level::kFatal), "FATAL");
  EXPECT_EQ(log::level_name(log::Level::kError), "ERROR");
  EXPECT_EQ(log::level_name(log::Level::kWarning), "WARNING");
  EXPECT_EQ(log::level_name(log::Level::kNote), "NOTE");
  EXPECT_EQ(log::level_name(log::Level::kDebug), "DEBUG");
  EXPECT_EQ(log::job_tag(17, "copyright", 4242, "localhost"), "JOB[17].copyright[4242.localhost]");
}

TEST_F(LogToFile, WritesTheDocumentedLineFormat) {
  log::error("cannot open '{}': {}", "x", "gone");
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(l[0], m, kLine)) << l[0];
  EXPECT_EQ(m[1], std::to_string(::getpid()));
  EXPECT_EQ(m[2], "ERROR");
  EXPECT_EQ(m[3], "cannot open 'x': gone");
}

TEST_F(LogToFile, VerbosityFiltersNoteAndDebugOnly) {
  struct Case {
    int verbose;
    std::vector<std::string> levels;
  } cases[] = {{0, {"FATAL", "ERROR", "WARNING"}},
               {1, {"FATAL", "ERROR", "WARNING", "NOTE"}},
               {2, {"FATAL", "ERROR", "WARNING", "NOTE", "DEBUG"}}};
  for (const auto& tc : cases) {
    log::open(path_ + std::to_string(tc.verbose));
    log::set_verbose(tc.verbose);
    log::fatal("f");
    log::error("e");
    log::warning("w");
    log::note("n");
    log::debug("d");
    std::vector<std::string> levels;
    for (const auto& l : lines_of(slurp(path_ + std::to_string(tc.verbose)))) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(l, m, kLine)) << l;
      levels.push_back(m[2]);
    }
    EXPECT_EQ(levels, tc.levels) << "verbose " << tc.verbose;
  }
}

TEST_F(LogToFile, AppendsAndReopensAfterRotation) {
  log::warning("one");
  fs::rename(path_, path_ + ".1");
  log::warning("two");  // still the old file, as logrotate expects until HUP
  EXPECT_TRUE(log::reopen());
  log::warning("three");
  EXPECT_EQ(lines_of(slurp(path_ + ".1")).size(), 2u);
  ASSERT_EQ(lines().size(), 1u);
  EXPECT_NE(lines()[0].find("WARNING: three"), std::string::npos);
  EXPECT_EQ(log::target(), path_);
}

TEST(LogOpen, UnwritableFileThrowsAndKeepsTheOldTarget) {
  test::TempDir dir;
  log::open("stderr");
  try {
    log::open(dir.path() + "/no/such/dir/x.log");
    FAIL();
  } catch (const log::LogError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open log file '" + dir.path() +
                                         "/no/such/dir/x.log': No such file or "
                                         "directory");
  }
  EXPECT_EQ(log::target(), "stderr");
  EXPECT_TRUE(log::reopen());  // no file: nothing to do
}

TEST_F(LogToFile, StepLogIsCreatedLazilyWithItsDirectories) {
  log::set_verbose(1);  // for the NOTE "Started"
  std::string dir = dir_.path() + "/logs";
  log::StepLog step(dir, 123, "copyright");
  EXPECT_EQ(step.path(), dir + "/jobs/123.log");
  EXPECT_EQ(step.jq_pk(), 123);
  EXPECT_FALSE(fs::exists(step.path()));
  step.agent_line(4242, "localhost", "hello \"world\"");
  step.write(log::Level::kNote, "Started");
  log::StepLog moved = std::move(step);
  moved.agent_line(4242, "localhost", "bad", log::Level::kError);
  auto l = lines_of(slurp(moved.path()));
  ASSERT_EQ(l.size(), 3u);
  std::regex re(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} copyright \[\d+\] :: (NOTE|ERROR): (.*)$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(l[0], m, re)) << l[0];
  EXPECT_EQ(m[2], "JOB[123].copyright[4242.localhost]: \"hello \"world\"\"");
  ASSERT_TRUE(std::regex_match(l[1], m, re)) << l[1];
  EXPECT_EQ(m[2], "Started");
  ASSERT_TRUE(std::regex_match(l[2], m, re)) << l[2];
  EXPECT_EQ(m[1], "ERROR");
  EXPECT_TRUE(lines().empty());  // nothing in the main log
}

// Agent output is always written; the scheduler's own messages about the step at the main log's
// verbosity. At 0 a step with only notes has no file at all.
TEST_F(LogToFile, StepLogWritesTheSchedulersMessagesAtTheMainLogsVerbosity) {
  std::regex re(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ok \[\d+\] :: ([A-Z]+): (.*)$)");
  auto levels_and_texts = [&](const std::string& path) {
    std::vector<std::string> out;
    for (const auto& l : lines_of(slurp(path))) {
      std::smatch m;
      EXPECT_TRUE(std::regex_match(l, m, re)) << l;
      out.push_back(m[1].str() + " " + m[2].str());
    }
    return out;
  };
  struct Case {
    int verbose;
    std::vector<std::string> expected;
  } cases[] = {
      {0, {"ERROR Failed: x", "WARNING w", "NOTE JOB[7].ok[9.h]: \"said\""}},
      {1, {"NOTE Started", "ERROR Failed: x", "WARNING w", "NOTE JOB[7].ok[9.h]: \"said\""}},
      {2,
       {"NOTE Started", "DEBUG d", "ERROR Failed: x", "WARNING w",
        "NOTE JOB[7].ok[9.h]: \"said\""}},
  };
  for (const auto& c : cases) {
    log::set_verbose(c.verbose);
    std::string dir = dir_.path() + "/v" + std::to_string(c.verbose);
    log::StepLog quiet(dir, 7, "ok");
    quiet.write(log::Level::kNote, "Started");
    quiet.write(log::Level::kDebug, "d");
    EXPECT_EQ(fs::exists(quiet.path()), c.verbose >= 1) << "verbose " << c.verbose;
    quiet.write(log::Level::kError, "Failed: x");
    quiet.write(log::Level::kWarning, "w");
    quiet.agent_line(9, "h", "said");  // NOTE, as an agent's plain text is
    EXPECT_EQ(levels_and_texts(quiet.path()), c.expected) << "verbose " << c.verbose;
    log::StepLog silent(dir, 8, "ok");
    silent.write(log::Level::kNote, "Started");
    silent.write(log::Level::kNote, "Completed");
    EXPECT_EQ(fs::exists(silent.path()), c.verbose >= 1) << "verbose " << c.verbose;
  }
  EXPECT_TRUE(lines().empty());  // nothing in the main log
}

// What jobctl log and the web page say of a jq_log path without a file.
TEST_F(LogToFile, AStepLoggedNothingWhenItsFileIsMissingFromALogDirectoryThatIsThere) {
  log::set_verbose(0);
  std::string dir = dir_.path() + "/logs";
  log::StepLog said(dir, 1, "ok");
  said.agent_line(9, "h", "text");  // makes <dir>/jobs
  log::StepLog silent(dir, 2, "ok");
  silent.write(log::Level::kNote, "Completed");
  EXPECT_FALSE(log::step_logged_nothing(said.path()));
  EXPECT_TRUE(log::step_logged_nothing(silent.path()));
  // No directory either: the log is likely elsewhere, not known to be empty.
  EXPECT_FALSE(log::step_logged_nothing(dir_.path() + "/elsewhere/jobs/3.log"));
}

TEST_F(LogToFile, StepLogFallsBackToTheMainLog) {
  std::ofstream(dir_.path() + "/file") << "x";  // a file where a directory must go
  log::StepLog step(dir_.path() + "/file", 5, "mimetype");
  step.agent_line(9, "h", "text");
  step.agent_line(9, "h", "more");
  auto l = lines();
  ASSERT_EQ(l.size(), 3u);  // one ERROR, then both lines: nothing lost
  EXPECT_NE(l[0].find("ERROR: cannot open the log of step 5 '" + dir_.path() + "/file/jobs/5.log'"),
            std::string::npos)
      << l[0];
  EXPECT_NE(l[1].find("mimetype ["), std::string::npos) << l[1];
  EXPECT_NE(l[2].find("JOB[5].mimetype[9.h]: \"more\""), std::string::npos) << l[2];
}

}  // namespace
