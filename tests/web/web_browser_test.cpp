// Browser tests: starts PostgreSQL, the scheduler and jobline-web (WebServer), prepares an
// upload directory and an upload with a hostile file name, then runs browser_test.py, which
// drives a headless Chromium through Selenium; screenshots go to <build>/tests/web/screenshots.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "web_client.hpp"

namespace {

using namespace std::chrono_literals;

TEST(WebBrowser, UploadWatchKillAndHostileName) {
  webtest::WebServer w;
  w.start_web();
  std::filesystem::create_directories(w.root() + "/src");
  std::ofstream(w.root() + "/src/<img src=x onerror=alert(1)>.c") << "int x;\n";
  std::string up = w.db().query(
      "INSERT INTO upload (upload_filename, upload_desc) VALUES ('/src', 'hostile') "
      "RETURNING upload_pk");
  w.db().query("INSERT INTO uploadtree (upload_fk, ufile_name) VALUES (" + up +
               ", '<img src=x onerror=alert(1)>.c')");
  w.db().query("SELECT queue_job('<img src=x onerror=alert(1)>')");
  auto r = test::run({"/usr/bin/python3", test::source_dir() + "/tests/web/browser_test.py",
                      "http://127.0.0.1:" + std::to_string(w.port()) + "/", w.root() + "/src", up,
                      test::build_dir() + "/tests/web/screenshots"},
                     {}, 240s);
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_NE(r.output.find("ok hostile_name"), std::string::npos) << r.output;
}

}  // namespace
