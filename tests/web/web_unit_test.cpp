// Unit tests of jobline-web's pure parts: HTML escaping with hostile strings, ids from
// requests, upload-root checks (.., symlinks out, prefixes that are not parents) and [web].
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config.hpp"
#include "html.hpp"
#include "path_guard.hpp"
#include "server.hpp"
#include "support.hpp"
#include "web_config.hpp"

namespace {

namespace fs = std::filesystem;

TEST(WebHtml, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(web::esc("<img src=x onerror=alert(1)>.c"), "&lt;img src=x onerror=alert(1)&gt;.c");
  EXPECT_EQ(web::esc("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
  EXPECT_EQ(web::esc("\"><script>alert(1)</script>"),
            "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(web::esc("&amp;"), "&amp;amp;");
  EXPECT_EQ(web::esc(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(web::esc("ünïcödé"), "ünïcödé");
}

TEST(WebHtml, PageFrameEscapesTheTitle) {
  std::string page = web::page_begin("<b>x</b>", "/jobs", "\"live");
  EXPECT_EQ(page.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(page.find("data-live=\"&quot;live\""), std::string::npos);
  EXPECT_NE(page.find("<a href=\"/jobs\" class=\"active\">"), std::string::npos);
}

TEST(WebHtml, Durations) {
  EXPECT_EQ(web::duration_text(5), "5s");
  EXPECT_EQ(web::duration_text(65), "1m05s");
  EXPECT_EQ(web::duration_text(3725), "1h02m");
  EXPECT_EQ(web::duration_text(-1), "-");
}

TEST(WebIds, OnlyPositiveDecimalIntegers) {
  EXPECT_EQ(web::parse_id("42"), 42);
  EXPECT_EQ(web::parse_id("0"), 0);
  EXPECT_EQ(web::parse_id("-3"), 0);
  EXPECT_EQ(web::parse_id("1 OR 1=1"), 0);
  EXPECT_EQ(web::parse_id("1;DROP"), 0);
  EXPECT_EQ(web::parse_id(""), 0);
  EXPECT_EQ(web::parse_id("99999999999"), 0);
}

TEST(WebPathGuard, InsideTheRootsOnly) {
  test::TempDir root, outside;
  fs::create_directories(root.path() + "/a/b");
  fs::create_directory(root.path() + "2");  // a sibling whose name starts like the root
  fs::create_directory_symlink(outside.path(), root.path() + "/a/out");
  fs::create_directory_symlink(root.path() + "/a/b", root.path() + "/a/in");
  std::vector<std::string> roots{root.path()};
  EXPECT_TRUE(web::guard_path(root.path() + "/a/b", roots).ok());
  EXPECT_TRUE(web::guard_path(root.path(), roots).ok());
  EXPECT_TRUE(web::guard_path(root.path() + "/a/in", roots).ok()) << "a symlink inside";
  EXPECT_FALSE(web::guard_path(root.path() + "/a/out", roots).ok()) << "a symlink out";
  EXPECT_FALSE(web::guard_path(root.path() + "/a/out/", roots).ok());
  EXPECT_FALSE(web::guard_path(root.path() + "/a/../a", roots).ok()) << "'..' even inside";
  EXPECT_FALSE(web::guard_path(root.path() + "2", roots).ok()) << "a prefix is not a parent";
  EXPECT_FALSE(web::guard_path("a/b", roots).ok());
  EXPECT_FALSE(web::guard_path(root.path() + "/nope", roots).ok());
  EXPECT_FALSE(web::guard_path(root.path() + "/a/b", {}).ok());
  EXPECT_EQ(web::guard_path(root.path() + "/a/../a", roots).error,
            "the path must not contain '..'");
}

TEST(WebConfig, DefaultsAndErrorsWithTheirLine) {
  test::TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir.path() + "/scheduler.conf") << text;
  };
  write("[scheduler]\nport = 1\n");
  auto c = web::load_web_config(dir.path());
  EXPECT_EQ(c.listen, "127.0.0.1");
  EXPECT_EQ(c.port, 24694);
  EXPECT_EQ(c.upload_limit, 256u << 20);
  write("[web]\nlisten = ::1\nport = 8080\nupload_roots = /srv/a;/srv/b\nupload_limit = 2\n");
  c = web::load_web_config(dir.path());
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.upload_roots, (std::vector<std::string>{"/srv/a", "/srv/b"}));
  EXPECT_EQ(c.upload_dir, "/srv/a/jobline-web");
  EXPECT_EQ(c.upload_limit, 2u << 20);
  EXPECT_TRUE(web::is_loopback(c.listen));
  EXPECT_FALSE(web::is_loopback("0.0.0.0"));
  EXPECT_FALSE(web::is_loopback("192.168.1.1"));
  EXPECT_TRUE(web::is_loopback("localhost"));
  write("[web]\n\nport = 70000\n");
  try {
    web::load_web_config(dir.path());
    FAIL() << "no error";
  } catch (const sched::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("scheduler.conf:3: [web] port"), std::string::npos)
        << e.what();
  }
  write("[web]\nupload_roots = relative\n");
  EXPECT_THROW(web::load_web_config(dir.path()), sched::ConfigError);
  write("[web]\nlisten = example.org\n");
  EXPECT_THROW(web::load_web_config(dir.path()), sched::ConfigError);
}

}  // namespace
