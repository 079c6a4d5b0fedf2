// unpack_bench: files/s of the unpack agent over a directory (default /usr/share/doc), cold
// (empty repository, every content written) and warm (same repository, a second upload of the
// same directory: contents hashed, none written). Built by tests/agents_unpack, not
// registered with CTest. Needs the `pg` fixture's cluster or --cluster CONNINFO:
//   build/tests/agents_unpack/unpack_bench [DIR] [--cluster CONNINFO]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "schema_install.hpp"
#include "support.hpp"

int main(int argc, char** argv) try {
  std::string dir = "/usr/share/doc";
  std::string cluster;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cluster" && i + 1 < argc)
      cluster = argv[++i];
    else
      dir = a;
  }
  test::TempDatabase db = cluster.empty() ? test::TempDatabase() : test::TempDatabase(cluster);
  jobline::schema::install(db.conninfo());
  test::TempDir scratch;
  const std::string repo = scratch.path() + "/repository";
  auto once = [&](const char* label) {
    const std::string up =
        db.query("INSERT INTO upload (upload_filename) VALUES ('" + dir + "') RETURNING upload_pk");
    auto t0 = std::chrono::steady_clock::now();
    auto r = test::run({test::build_dir() + "/agents/unpack/unpack", "--db", db.conninfo(),
                        "--repository", repo, up},
                       {}, std::chrono::hours(1));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.exit_code() != 0) throw std::runtime_error("unpack failed:\n" + r.output);
    const long long files = std::stoll(db.query(
        "SELECT count(*) FROM uploadtree WHERE pfile_fk IS NOT NULL AND upload_fk = " + up));
    const long long rows =
        std::stoll(db.query("SELECT count(*) FROM uploadtree WHERE upload_fk = " + up));
    std::printf("%-5s %s: %lld files (%lld rows) in %.2f s = %.0f files/s\n", label, dir.c_str(),
                files, rows, s, static_cast<double>(files) / s);
  };
  once("cold");
  once("warm");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "unpack_bench: %s\n", e.what());
  return 1;
}
