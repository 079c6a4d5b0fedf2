// The unpack agent on hostile input: every case with its exact message, and nothing written
// outside the repository. Entries are skipped with a WARNING (the upload is registered
// without them); a bad nested archive is kept as a plain file; a bad top-level archive or an
// upload past its limits fails with a FATAL line.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "agent/repository.hpp"
#include "store.hpp"
#include "unpack_fixture.hpp"
#include "unpacker.hpp"

namespace {

using unpack_test::contains;
using unpack_test::Entry;
using unpack_test::UnpackTest;
namespace fs = std::filesystem;

// Every file under `dir`, relative.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// "d/d/.../d/f" with `levels` components.
std::string deep_path(int levels) {
  std::string p;
  for (int i = 1; i < levels; ++i) p += "d/";
  return p + "f";
}

TEST_F(UnpackTest, HostileEntriesAreSkippedWithAMessage) {
  const std::string w = work() + "/in";
  fs::create_directories(w);
  unpack_test::write_archive(w + "/evil.tar", "gnutar", {},
                             {{"ok.txt", "fine\n"},
                              {"/etc/passwd-evil", "root::0:0\n"},
                              {"../../escape.txt", "out\n"},
                              {"a/../../up.txt", "out\n"},
                              {"abs-link", "", AE_IFLNK, "/etc/passwd"},
                              {"up-link", "", AE_IFLNK, "../../../etc/passwd"},
                              {"hard-out", "", AE_IFREG, "../outside", true},
                              {"hard-ok", "", AE_IFREG, "ok.txt", true},
                              {"in-link", "", AE_IFLNK, "ok.txt"},
                              {"dangling", "", AE_IFLNK, "nowhere"},
                              {"null", "", AE_IFCHR},
                              {"fifo", "", AE_IFIFO},
                              {std::string("bad\xff.txt"), "x\n"},
                              {std::string(1025, 'n'), "long\n"},
                              {deep_path(257), "deep\n"}});
  const std::string cwd = work() + "/cwd";
  fs::create_directories(cwd);
  long long up = add_upload(w + "/evil.tar");
  std::vector<std::string> argv{test::build_dir() + "/agents/unpack/unpack",
                                "--db",
                                db.conninfo(),
                                "--repository",
                                repo(),
                                std::to_string(up)};
  auto r = test::run({"sh", "-c", "cd '" + cwd + "' && exec \"$@\"", "sh", argv[0], argv[1],
                      argv[2], argv[3], argv[4], argv[5]});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const std::string u = "WARNING: upload " + std::to_string(up) + ": 'evil.tar' entry ";
  for (const std::string& line : {
           u + "'/etc/passwd-evil': absolute path; skipped",
           u + "'../../escape.txt': path with '..'; skipped",
           u + "'a/../../up.txt': path with '..'; skipped",
           u + "'abs-link': symbolic link to '/etc/passwd' points outside the archive; skipped",
           u + "'up-link': symbolic link to '../../../etc/passwd' points outside the archive; "
               "skipped",
           u + "'hard-out': hard link to '../outside' points outside the archive; skipped",
           u + "'null': character device; skipped",
           u + "'fifo': fifo; skipped",
           u + "'bad\\xFF.txt': name is not valid UTF-8; skipped",
           u + "'" + std::string(1025, 'n') + "': name longer than 1024 bytes; skipped",
           u + "'" + deep_path(257) + "': path deeper than 256 levels; skipped",
           "WARNING: upload " + std::to_string(up) +
               ": 'evil.tar/dangling': symbolic link to 'nowhere': no such file in the upload; "
               "skipped",
       })
    EXPECT_TRUE(contains(r.output, line + "\n")) << "missing: " << line << "\n" << r.output;
  EXPECT_EQ(tree(up), (std::vector<std::string>{
                          "evil.tar " + std::to_string(fs::file_size(w + "/evil.tar")),
                          "evil.tar/hard-ok 5", "evil.tar/in-link 5", "evil.tar/ok.txt 5"}));
  // Nothing was written anywhere but into the repository.
  EXPECT_TRUE(fs::is_empty(cwd));
  EXPECT_EQ(files_under(w), std::vector<std::string>{"evil.tar"});
  EXPECT_FALSE(fs::exists(work() + "/escape.txt"));
  EXPECT_FALSE(fs::exists("/etc/passwd-evil"));
  for (const auto& f : files_under(repo()))
    EXPECT_TRUE(f == "files" || f == "tmp" || f.rfind("files/", 0) == 0) << f;
}

TEST_F(UnpackTest, HostileDirectoryEntries) {
  const std::string d = work() + "/d";
  fs::create_directories(d);
  unpack_test::write_file(d + "/ok", "ok\n");
  unpack_test::write_file(d + "/bad\xfe", "x\n");
  ASSERT_EQ(::mkfifo((d + "/pipe").c_str(), 0644), 0);
  fs::create_symlink("/etc/passwd", d + "/abs");
  fs::create_symlink("../../etc/passwd", d + "/up");
  fs::create_symlink("..", d + "/parent");
  long long up = add_upload(d);
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const std::string u = "WARNING: upload " + std::to_string(up) + ": ";
  for (const std::string& line : {
           u + "'d/abs': symbolic link to '/etc/passwd' points outside the upload; skipped",
           u + "'d/up': symbolic link to '../../etc/passwd' points outside the upload; skipped",
           u + "'d/parent': symbolic link to '..' points outside the upload; skipped",
           u + "'d/bad\\xFE': name is not valid UTF-8; skipped",
           u + "'d/pipe': fifo; skipped",
       })
    EXPECT_TRUE(contains(r.output, line + "\n")) << "missing: " << line << "\n" << r.output;
  EXPECT_EQ(tree(up), (std::vector<std::string>{"d dir", "d/ok 3"}));
}

// A file that vanishes between the listing and its reading: skipped, the rest registered.
TEST(UnpackVanish, FileVanishingWhileReadIsSkipped) {
  test::TempDir t;
  const std::string d = t.path() + "/v";
  fs::create_directories(d);
  unpack_test::write_file(d + "/a", "a\n");
  unpack_test::write_file(d + "/b", "b\n");
  unpack::Store store{agent::Repository(t.path() + "/repo")};
  std::vector<std::string> warnings;
  unpack::Unpacker u(store, {}, [&](const std::string& w) { warnings.push_back(w); });
  u.before_open = [&](const std::string& path) {
    if (path == "v/b") fs::remove(d + "/b");
  };
  unpack::Tree tree = u.unpack(d);
  EXPECT_EQ(warnings, std::vector<std::string>{
                          "'v/b': vanished while being read (No such file or directory); skipped"});
  ASSERT_EQ(tree.size(), 2u);
  EXPECT_EQ(tree.nodes()[1].name, "a");
}

// Corrupt, truncated, too deep, bombs: contained when nested, refused at the top.
TEST_F(UnpackTest, CorruptAndTruncatedArchives) {
  const std::string w = work();
  unpack_test::write_archive(w + "/good.tar.gz", "gnutar", {"gzip"},
                             {{"f", std::string(100'000, 'x') + "tail"}});
  std::string bytes = unpack_test::read_file(w + "/good.tar.gz");
  unpack_test::write_file(w + "/cut.tar.gz", bytes.substr(0, bytes.size() / 2));
  std::string garbled = bytes;
  for (std::size_t i = 20; i < 60; ++i) garbled[i] = static_cast<char>(garbled[i] ^ 0x5a);
  unpack_test::write_file(w + "/garbled.tar.gz", garbled);

  long long cut = add_upload(w + "/cut.tar.gz");
  auto r = run_unpack(cut);
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(cut) +
                                     ": 'cut.tar.gz': corrupt or truncated archive ("))
      << r.output;
  EXPECT_EQ(count("SELECT count(*) FROM uploadtree"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM pfile"), 0);

  long long garb = add_upload(w + "/garbled.tar.gz");
  r = run_unpack(garb);
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(garb) +
                                     ": 'garbled.tar.gz': corrupt or truncated archive ("))
      << r.output;

  // Nested: the broken archives stay plain files, their siblings are registered.
  unpack_test::write_archive(w + "/outer.tar", "gnutar", {},
                             {{"cut.tar.gz", bytes.substr(0, bytes.size() / 2)},
                              {"garbled.tar.gz", garbled},
                              {"fine.txt", "fine\n"}});
  long long outer = add_upload(w + "/outer.tar");
  r = run_unpack(outer);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_TRUE(contains(r.output, "WARNING: upload " + std::to_string(outer) +
                                     ": 'outer.tar/cut.tar.gz': corrupt or truncated archive ("))
      << r.output;
  EXPECT_TRUE(contains(r.output, "); kept as a file\n")) << r.output;
  auto t = tree(outer);
  ASSERT_EQ(t.size(), 4u) << r.output;
  EXPECT_EQ(t[1].substr(0, t[1].rfind(' ')), "outer.tar/cut.tar.gz");
  EXPECT_EQ(t[3], "outer.tar/garbled.tar.gz " + std::to_string(garbled.size()));
  EXPECT_EQ(db.query("SELECT ufile_mode & (1 << 29) FROM uploadtree WHERE ufile_name = "
                     "'cut.tar.gz'"),
            "0");
}

TEST_F(UnpackTest, ZipBombsAndLimits) {
  const std::string w = work();
  // 8 MiB of one letter: about 8 KiB of gzip, a ratio near 1000. (Not zeros: a gzip of
  // zeros is an empty tar archive to libarchive — and to tar.)
  unpack_test::write_archive(w + "/bomb.gz", "raw", {"gzip"},
                             {{"bomb", std::string(8u << 20, 'A')}});
  const std::vector<std::string> limits{"--max-ratio", "100", "--ratio-min-size", "1048576"};
  long long top = add_upload(w + "/bomb.gz");
  auto r = run_unpack(top, limits);
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(top) +
                                     ": 'bomb.gz': expands to more than max_ratio (100) times "
                                     "its size\n"))
      << r.output;
  EXPECT_EQ(count("SELECT count(*) FROM uploadtree"), 0);

  unpack_test::write_archive(
      w + "/box.tar", "gnutar", {},
      {{"bomb.gz", unpack_test::read_file(w + "/bomb.gz")}, {"ok.txt", "ok\n"}});
  long long nested = add_upload(w + "/box.tar");
  r = run_unpack(nested, limits);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_TRUE(contains(r.output, "WARNING: upload " + std::to_string(nested) +
                                     ": 'box.tar/bomb.gz': expands to more than max_ratio (100) "
                                     "times its size; kept as a file\n"))
      << r.output;
  EXPECT_EQ(tree(nested).size(), 3u);

  // Total size and number of files.
  long long total = add_upload(w + "/box.tar");
  r = run_unpack(total, {"--max-total-size", "1000000"});
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(total) +
                                     ": 'box.tar/bomb.gz/bomb': the upload expands past "
                                     "max_total_size (1000000 bytes)\n"))
      << r.output;
  long long many = add_upload(w + "/box.tar");
  r = run_unpack(many, {"--max-files", "2"});
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(many) +
                                     ": 'box.tar/bomb.gz/bomb': the upload has more than "
                                     "max_files (2) files\n"))
      << r.output;
  EXPECT_EQ(count("SELECT count(*) FROM uploadtree WHERE upload_fk IN (" + std::to_string(total) +
                  ", " + std::to_string(many) + ")"),
            0);
}

TEST_F(UnpackTest, NestingDeeperThanMaxDepth) {
  const std::string w = work();
  unpack_test::write_archive(w + "/c.tar", "gnutar", {}, {{"leaf", "leaf\n"}});
  unpack_test::write_archive(w + "/b.tar", "gnutar", {},
                             {{"c.tar", unpack_test::read_file(w + "/c.tar")}});
  unpack_test::write_archive(w + "/a.tar", "gnutar", {},
                             {{"b.tar", unpack_test::read_file(w + "/b.tar")}});
  long long up = add_upload(w + "/a.tar");
  auto r = run_unpack(up, {"--max-depth", "2"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_TRUE(contains(r.output, "WARNING: upload " + std::to_string(up) +
                                     ": 'a.tar/b.tar/c.tar': archive nested deeper than "
                                     "max_depth (2); kept as a file\n"))
      << r.output;
  EXPECT_EQ(tree(up).size(), 3u);
}

TEST_F(UnpackTest, BadUploads) {
  long long missing = add_upload(work() + "/nope");
  auto r = run_unpack(missing);
  EXPECT_EQ(r.exit_code(), 1);
  EXPECT_TRUE(contains(r.output, "FATAL: upload " + std::to_string(missing) + ": '" + work() +
                                     "/nope': No such file or directory\n"))
      << r.output;
  r = run_unpack(999999);
  EXPECT_TRUE(contains(r.output, "FATAL: upload 999999: no such upload\n")) << r.output;
  auto bad = test::run({test::build_dir() + "/agents/unpack/unpack", "--db", db.conninfo(), "x1"});
  EXPECT_EQ(bad.exit_code(), 1);
  EXPECT_TRUE(
      contains(bad.output, "FATAL: data line 'x1' is not an upload id (a positive integer)"))
      << bad.output;
  auto opt = test::run({test::build_dir() + "/agents/unpack/unpack", "--max-depth", "zero"});
  EXPECT_EQ(opt.exit_code(), 2);
  EXPECT_TRUE(contains(opt.output, "FATAL: bad option: ")) << opt.output;
}

}  // namespace
