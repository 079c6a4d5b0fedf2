// The unpack agent on good input: a directory, every archive format libarchive writes, single
// compressed files, nested archives (a .deb), the nested sets, deduplication across uploads
// and re-runs that add nothing.
#include <sys/stat.h>

#include <filesystem>

#include "unpack_fixture.hpp"

namespace {

using unpack_test::Entry;
using unpack_test::UnpackTest;
namespace fs = std::filesystem;

const std::vector<Entry> kEntries = {
    {"dir", "", AE_IFDIR}, {"a.txt", "alpha\n"}, {"dir/b.txt", "beta beta\n"}};
const std::vector<std::string> kTreeOf = {"", "/a.txt 6", "/dir dir", "/dir/b.txt 10"};

std::vector<std::string> expected_tree(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& line : kTreeOf) out.push_back(root + (line.empty() ? "" : line));
  return out;
}

TEST_F(UnpackTest, Directory) {
  const std::string d = work() + "/src";
  fs::create_directories(d + "/dir/empty");
  unpack_test::write_file(d + "/a.txt", "alpha\n");
  unpack_test::write_file(d + "/dir/b.txt", "beta beta\n");
  unpack_test::write_file(d + "/dir/same.txt", "alpha\n");
  fs::create_symlink("../a.txt", d + "/dir/link");
  long long up = add_upload(d);
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(tree(up),
            (std::vector<std::string>{"src dir", "src/a.txt 6", "src/dir dir", "src/dir/b.txt 10",
                                      "src/dir/empty dir", "src/dir/link 6", "src/dir/same.txt 6"}))
      << r.output;
  // Two distinct contents, each once in pfile and once in the repository.
  EXPECT_EQ(count("SELECT count(*) FROM pfile"), 2);
  EXPECT_EQ(db.query("SELECT pfile_sha1 FROM pfile WHERE pfile_size = 6"),
            "D046CD9B7FFB7661E449683313D41F6FC33E3130");
  EXPECT_EQ(
      unpack_test::read_file(repo() + "/files/d0/46/d046cd9b7ffb7661e449683313d41f6fc33e3130"),
      "alpha\n");
  EXPECT_EQ(count("SELECT count(*) FROM unpack_ars WHERE ars_success"), 1);
}

TEST_F(UnpackTest, NestedSetsAreConsistent) {
  const std::string d = work() + "/n";
  fs::create_directories(d + "/x/y");
  unpack_test::write_file(d + "/x/y/z", "z");
  unpack_test::write_archive(d + "/x/t.tar", "gnutar", {}, kEntries);
  long long up = add_upload(d);
  ASSERT_EQ(run_unpack(up).exit_code(), 0);
  const std::string u = std::to_string(up);
  // Every row's interval lies inside its parent's; rgt - lft + 1 = 2 × the subtree's size.
  EXPECT_EQ(count("SELECT count(*) FROM uploadtree c JOIN uploadtree p ON c.parent = "
                  "p.uploadtree_pk WHERE c.upload_fk = " +
                  u + " AND NOT (p.lft < c.lft AND c.rgt < p.rgt)"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM uploadtree t WHERE upload_fk = " + u +
                  " AND rgt - lft + 1 <> 2 * (SELECT count(*) FROM uploadtree s WHERE "
                  "s.upload_fk = t.upload_fk AND s.lft BETWEEN t.lft AND t.rgt)"),
            0);
  EXPECT_EQ(
      db.query("SELECT lft || ' ' || rgt FROM uploadtree WHERE parent IS NULL AND "
               "upload_fk = " +
               u),
      "1 " + std::to_string(2 * count("SELECT count(*) FROM uploadtree WHERE upload_fk = " + u)));
  // The tar is a container (FOSSology's bit 29); directories carry bit 18.
  EXPECT_EQ(db.query("SELECT ufile_mode & (1 << 29) <> 0 FROM uploadtree WHERE ufile_name = "
                     "'t.tar' AND upload_fk = " +
                     u),
            "t");
  EXPECT_EQ(db.query("SELECT ufile_mode & (1 << 18) <> 0 FROM uploadtree WHERE ufile_name = "
                     "'y' AND upload_fk = " +
                     u),
            "t");
}

struct Format {
  const char* name;
  const char* format;
  std::vector<std::string> filters;
};

void PrintTo(const Format& f, std::ostream* os) {
  *os << f.name;
}

class Formats : public UnpackTest, public ::testing::WithParamInterface<Format> {};

TEST_P(Formats, UnpacksEveryEntry) {
  const Format& f = GetParam();
  const std::string file = work() + "/" + f.name;
  std::vector<Entry> entries = kEntries;
  std::vector<std::string> want = expected_tree(f.name);
  if (std::string(f.format).rfind("ar", 0) == 0) {  // ar archives are flat
    entries = {{"a.txt", "alpha\n"}, {"b.txt", "beta beta\n"}};
    want = {std::string(f.name) + "/a.txt 6", std::string(f.name) + "/b.txt 10"};
    want.insert(want.begin(), f.name);
  }
  unpack_test::write_archive(file, f.format, f.filters, entries);
  want[0] += " " + std::to_string(fs::file_size(file));
  long long up = add_upload(file);
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(tree(up), want) << r.output;
  EXPECT_FALSE(unpack_test::contains(r.output, "WARNING")) << r.output;
  // The upload row points at the archive's pfile.
  EXPECT_EQ(db.query("SELECT p.pfile_size FROM upload u JOIN pfile p ON p.pfile_pk = u.pfile_fk "
                     "WHERE upload_pk = " +
                     std::to_string(up)),
            std::to_string(fs::file_size(file)));
}

INSTANTIATE_TEST_SUITE_P(
    Unpack, Formats,
    ::testing::Values(Format{"t.tar", "gnutar", {}}, Format{"t.pax", "pax", {}},
                      Format{"t.tar.gz", "gnutar", {"gzip"}},
                      Format{"t.tar.bz2", "gnutar", {"bzip2"}},
                      Format{"t.tar.xz", "gnutar", {"xz"}}, Format{"t.tar.zst", "gnutar", {"zstd"}},
                      Format{"t.zip", "zip", {}}, Format{"t.7z", "7zip", {}},
                      Format{"t.cpio", "newc", {}}, Format{"t.cpio.gz", "odc", {"gzip"}},
                      Format{"t.a", "arsvr4", {}}, Format{"t.ar", "arbsd", {}},
                      Format{"t.iso", "iso9660", {}}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n)
        if (c == '.') c = '_';
      return n;
    });

struct Single {
  const char* name;
  const char* filter;
  const char* inner;
};
void PrintTo(const Single& s, std::ostream* os) {
  *os << s.name;
}
class SingleFiles : public UnpackTest, public ::testing::WithParamInterface<Single> {};

TEST_P(SingleFiles, OneCompressedFile) {
  const Single& s = GetParam();
  const std::string file = work() + "/" + s.name;
  unpack_test::write_archive(file, "raw", {s.filter}, {{"x", "just one file\n"}});
  long long up = add_upload(file);
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(tree(up), (std::vector<std::string>{
                          std::string(s.name) + " " + std::to_string(fs::file_size(file)),
                          std::string(s.name) + "/" + s.inner + " 14"}));
}

INSTANTIATE_TEST_SUITE_P(Unpack, SingleFiles,
                         ::testing::Values(Single{"n.txt.gz", "gzip", "n.txt"},
                                           Single{"n.txt.bz2", "bzip2", "n.txt"},
                                           Single{"n.txt.xz", "xz", "n.txt"},
                                           Single{"n.txt.zst", "zstd", "n.txt"}),
                         [](const auto& info) { return std::string(info.param.filter); });

// Names beyond ASCII survive every format that stores UTF-8.
TEST_F(UnpackTest, Utf8NamesInEveryFormat) {
  const std::string name = "h\xc3\xa9llo-\xe6\x97\xa5\xe6\x9c\xac.txt";  // héllo-日本.txt
  for (const char* format : {"gnutar", "pax", "zip", "7zip", "newc"}) {
    const std::string file = work() + "/u-" + format;
    unpack_test::write_archive(file, format, {}, {{name, "x\n"}});
    long long up = add_upload(file);
    auto r = run_unpack(up);
    ASSERT_EQ(r.exit_code(), 0) << r.output;
    auto t = tree(up);
    ASSERT_EQ(t.size(), 2u) << format << "\n" << r.output;
    EXPECT_EQ(t[1], "u-" + std::string(format) + "/" + name + " 2") << format;
  }
}

// A plain file that is no archive is an upload of one file.
TEST_F(UnpackTest, PlainFile) {
  const std::string file = work() + "/notes.txt";
  unpack_test::write_file(file, "not an archive\n");
  long long up = add_upload(file);
  ASSERT_EQ(run_unpack(up).exit_code(), 0);
  EXPECT_EQ(tree(up), std::vector<std::string>{"notes.txt 15"});
}

// A .deb: an ar with two tar.xz members, in a tar.gz, in a zip.
TEST_F(UnpackTest, NestedArchives) {
  const std::string w = work();
  unpack_test::write_archive(w + "/control.tar.xz", "gnutar", {"xz"},
                             {{"./control", "Package: x\n"}});
  unpack_test::write_archive(w + "/data.tar.xz", "gnutar", {"xz"},
                             {{"./usr", "", AE_IFDIR}, {"./usr/bin/x", "#!/bin/sh\n"}});
  unpack_test::write_archive(w + "/x.deb", "arsvr4", {},
                             {{"debian-binary", "2.0\n"},
                              {"control.tar.xz", unpack_test::read_file(w + "/control.tar.xz")},
                              {"data.tar.xz", unpack_test::read_file(w + "/data.tar.xz")}});
  unpack_test::write_archive(w + "/pool.tar.gz", "gnutar", {"gzip"},
                             {{"pool/x.deb", unpack_test::read_file(w + "/x.deb")}});
  unpack_test::write_archive(w + "/all.zip", "zip", {},
                             {{"pool.tar.gz", unpack_test::read_file(w + "/pool.tar.gz")}});
  long long up = add_upload(w + "/all.zip");
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  auto t = tree(up);
  std::vector<std::string> paths;
  for (auto& line : t) paths.push_back(line.substr(0, line.rfind(' ')));
  EXPECT_EQ(paths,
            (std::vector<std::string>{"all.zip", "all.zip/pool.tar.gz", "all.zip/pool.tar.gz/pool",
                                      "all.zip/pool.tar.gz/pool/x.deb",
                                      "all.zip/pool.tar.gz/pool/x.deb/control.tar.xz",
                                      "all.zip/pool.tar.gz/pool/x.deb/control.tar.xz/control",
                                      "all.zip/pool.tar.gz/pool/x.deb/data.tar.xz",
                                      "all.zip/pool.tar.gz/pool/x.deb/data.tar.xz/usr",
                                      "all.zip/pool.tar.gz/pool/x.deb/data.tar.xz/usr/bin",
                                      "all.zip/pool.tar.gz/pool/x.deb/data.tar.xz/usr/bin/x",
                                      "all.zip/pool.tar.gz/pool/x.deb/debian-binary"}))
      << r.output;
}

TEST_F(UnpackTest, DedupAcrossUploadsAndRerunsAddNoRows) {
  const std::string w = work();
  unpack_test::write_archive(w + "/one.tar", "gnutar", {}, kEntries);
  unpack_test::write_archive(w + "/two.zip", "zip", {}, kEntries);
  long long a = add_upload(w + "/one.tar");
  long long b = add_upload(w + "/two.zip");
  ASSERT_EQ(run_unpack(a).exit_code(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM pfile"), 3);  // one.tar, a.txt, b.txt
  ASSERT_EQ(run_unpack(b).exit_code(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM pfile"), 4);  // + two.zip; a.txt and b.txt shared
  EXPECT_EQ(count("SELECT count(DISTINCT pfile_fk) FROM uploadtree WHERE ufile_name IN "
                  "('a.txt', 'b.txt')"),
            2);
  const auto before = db.rows(
      "SELECT (SELECT count(*) FROM uploadtree), (SELECT count(*) FROM pfile), "
      "(SELECT count(*) FROM ars_master), (SELECT count(*) FROM agent)");
  auto again = run_unpack(a);
  EXPECT_EQ(again.exit_code(), 0);
  EXPECT_TRUE(unpack_test::contains(again.output, "already unpacked; nothing to do"))
      << again.output;
  ASSERT_EQ(run_unpack(b).exit_code(), 0);
  EXPECT_EQ(db.rows("SELECT (SELECT count(*) FROM uploadtree), (SELECT count(*) FROM pfile), "
                    "(SELECT count(*) FROM ars_master), (SELECT count(*) FROM agent)"),
            before);
  // The repository holds each content once, and no temp file is left.
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(repo() + "/files"))
    files += e.is_regular_file() ? 1u : 0u;
  EXPECT_EQ(files, 4u);
  EXPECT_TRUE(!fs::exists(repo() + "/tmp") || fs::is_empty(repo() + "/tmp"));
}

}  // namespace
