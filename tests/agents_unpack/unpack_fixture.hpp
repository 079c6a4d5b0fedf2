// Helpers of the unpack agent's tests: archives written at test time with libarchive's
// writer (any format, any filter, hostile entries included), a database with the schema, and
// the unpack binary run standalone against it.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <clocale>
#include <fstream>
#include <string>
#include <vector>

#include "schema_install.hpp"
#include "support.hpp"

namespace unpack_test {

struct Entry {
  Entry(std::string p, std::string d = "", unsigned t = AE_IFREG, std::string l = "",
        bool h = false)
      : path(std::move(p)), data(std::move(d)), type(t), link(std::move(l)), hard(h) {}
  std::string path;
  std::string data;  // for regular files
  unsigned type;     // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR...
  std::string link;  // symlink target (AE_IFLNK) or hard link target (hard = true)
  bool hard;
};

// Writes an archive of `format` (libarchive's names: gnutar, zip, 7zip, newc, arsvr4, raw...)
// through the filters (gzip, bzip2, xz, zstd...).
inline void write_archive(const std::string& file, const std::string& format,
                          const std::vector<std::string>& filters,
                          const std::vector<Entry>& entries) {
  std::setlocale(LC_CTYPE, "C.UTF-8");  // names are UTF-8 (formats that store UTF-8 convert)
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_by_name(a, format.c_str()), ARCHIVE_OK) << format;
  for (const auto& f : filters) {
    ASSERT_EQ(archive_write_add_filter_by_name(a, f.c_str()), ARCHIVE_OK) << f;
  }
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_mtime(ae, 1'600'000'000, 0);
    if (e.hard) {
      archive_entry_set_filetype(ae, AE_IFREG);
      archive_entry_set_perm(ae, 0644);
      archive_entry_set_hardlink(ae, e.link.c_str());
      archive_entry_set_size(ae, 0);
    } else {
      archive_entry_set_filetype(ae, e.type);
      archive_entry_set_perm(ae, e.type == AE_IFDIR ? 0755 : 0644);
      if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.link.c_str());
      if (e.type == AE_IFCHR) archive_entry_set_rdev(ae, 0x0103);
      archive_entry_set_size(ae, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
    }
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << e.path << ": " << archive_error_string(a);
    if (!e.hard && e.type == AE_IFREG && !e.data.empty()) {
      EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(ae);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A database with the schema, a scratch dir and a repository; runs the agent standalone.
class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override { jobline::schema::install(db.conninfo()); }

  std::string repo() const { return scratch.path() + "/repository"; }
  std::string work() const { return scratch.path(); }

  long long add_upload(const std::string& path) {
    return std::stoll(db.query("INSERT INTO upload (upload_filename) VALUES ('" + path +
                               "') RETURNING upload_pk"));
  }

  test::RunResult run_unpack(long long upload, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{test::build_dir() + "/agents/unpack/unpack", "--db",
                                  db.conninfo(), "--repository", repo()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(std::to_string(upload));
    return test::run(argv);
  }

  // The upload's tree as "path size" lines ("path dir" for directories), sorted by path.
  std::vector<std::string> tree(long long upload) {
    return db.rows(
        "WITH RECURSIVE t AS (SELECT uploadtree_pk, ufile_name::text AS path, pfile_fk "
        "FROM uploadtree WHERE upload_fk = " +
        std::to_string(upload) +
        " AND parent IS NULL UNION ALL SELECT u.uploadtree_pk, t.path || '/' || u.ufile_name, "
        "u.pfile_fk FROM uploadtree u JOIN t ON u.parent = t.uploadtree_pk) "
        "SELECT t.path || ' ' || coalesce(p.pfile_size::text, 'dir') FROM t "
        "LEFT JOIN pfile p ON p.pfile_pk = t.pfile_fk ORDER BY t.path COLLATE \"C\"");
  }

  long long count(const std::string& sql) { return std::stoll(db.query(sql)); }

  test::TempDatabase db;
  test::TempDir scratch;
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace unpack_test
