// scan_bench: each scanner's own rate on warm files (docs/agents.md): the copyright and
// license detectors and libmagic, in one thread, over the files listed on stdin (read once
// first, so the page cache is warm), reading each file as the agents do. Prints files/s by wall
// time and the CPU time per file (getrusage), which is what counts on a loaded machine.
// Built, not registered with CTest:
//   find /usr/include /usr/share/doc -type f -size -256k | head -5000 |
//   build/tests/agents_scan/scan_bench
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "copyright_detect.hpp"
#include "license_detect.hpp"
#include "magic_cookie.hpp"
#include "scanner.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void measure(const char* name, const std::vector<std::string>& paths,
             const std::function<std::size_t(const std::string&)>& scan) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  std::size_t found = 0;
  for (const auto& p : paths) found += scan(p);
  const double cpu = cpu_seconds() - c0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%-10s %6zu files  %8.0f files/s (wall)  %8.0f files/s (CPU)  %7.1f us CPU/file  %zu "
      "findings\n",
      name, paths.size(), static_cast<double>(paths.size()) / wall,
      static_cast<double>(paths.size()) / cpu, cpu * 1e6 / static_cast<double>(paths.size()),
      found);
}

}  // namespace

int main() try {
  std::vector<std::string> paths;
  std::size_t bytes = 0;
  for (std::string line; std::getline(std::cin, line);) {
    if (line.empty()) continue;
    try {
      bytes += scanner::read_file(line, scanner::max_scan_bytes).size();  // warms the cache
      paths.push_back(line);
    } catch (const std::exception&) {
      // unreadable: left out
    }
  }
  std::printf("%zu files, %.1f MB\n", paths.size(), static_cast<double>(bytes) / 1e6);
  measure("copyright", paths, [](const std::string& p) {
    return copyright::detect(scanner::read_file(p, scanner::max_scan_bytes)).size();
  });
  measure("license", paths, [](const std::string& p) {
    return license::detect(scanner::read_file(p, scanner::max_scan_bytes)).matches.size();
  });
  mimetype::MagicCookie magic;
  measure("mimetype", paths, [&](const std::string& p) { return magic.type_of(p).size(); });
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "scan_bench: %s\n", e.what());
  return 1;
}
