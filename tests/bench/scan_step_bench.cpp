// scan_step_bench: each scanner's rate as a step — a real scheduler feeding an SQL-fed step of
// copyright, license or mimetype (the shipped plugin's query, `jobctl queue`) over an upload of N
// distinct small files, with 1 and 2 agents; the rate is files / (jq_endtime - jq_starttime).
// Uses a PostgreSQL cluster of its own (PrivateCluster). Built, not run by CTest:
//   JOBLINE_BUILD_DIR=$PWD/build JOBLINE_SOURCE_DIR=$PWD JOBLINE_TEST_STATE=$PWD/build/test-state
//     build/tests/agents_scan/scan_step_bench [files (default 5000)]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "private_cluster.hpp"
#include "scan_setup.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
  const int n = argc > 1 ? std::stoi(argv[1]) : 5000;
  test::PrivateCluster cluster;
  // Distinct small files: the corpus's files under 8 KiB, each with a line of its own.
  std::vector<scantest::File> base;
  for (auto& f : scantest::corpus_files())
    if (f.bytes.size() < 8192) base.push_back(std::move(f));
  std::printf("%d files per step, from %zu corpus files\n", n, base.size());
  for (int agents : {1, 2}) {
    scantest::ScanSetup setup(cluster.conninfo(), agents);
    std::vector<scantest::File> files;
    for (int i = 0; static_cast<int>(files.size()) < n; ++i) {
      const auto& b = base[static_cast<std::size_t>(i) % base.size()];
      files.push_back({std::to_string(i) + "-" + b.name,
                       b.bytes + "\n/* variant " + std::to_string(i) + " */\n", "", ""});
    }
    const std::string upload = setup.add_upload(files);
    for (const auto& agent : scantest::kAgents) {
      const long long jq = setup.queue(agent, upload);
      if (!setup.h.wait_ended(jq, 600s) || setup.h.end_bits(jq) != 1) {
        std::fprintf(stderr, "%s: step %lld did not complete: %s\n", agent.c_str(), jq,
                     setup.h.endtext(jq).c_str());
        return 1;
      }
      const double seconds = std::stod(setup.h.db().query(
          "SELECT extract(epoch FROM jq_endtime - jq_starttime) FROM jobqueue WHERE jq_pk = " +
          std::to_string(jq)));
      // The agents' own CPU time, from their last log line ("..., N ms CPU").
      const std::string log = setup.h.step_log(jq);
      long cpu = 0;
      for (std::size_t at = log.find(" ms CPU"); at != std::string::npos;
           at = log.find(" ms CPU", at + 1)) {
        const std::size_t b = log.rfind(' ', at - 1) + 1;
        cpu += std::stol(log.substr(b, at - b));
      }
      std::printf(
          "%-10s %d agent(s)  %6lld files  %6.2f s  %7.0f files/s  agents' CPU %5.0f us/file\n",
          agent.c_str(), agents, setup.h.items(jq), seconds, static_cast<double>(n) / seconds,
          static_cast<double>(cpu) * 1000.0 / n);
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "scan_step_bench: %s\n", e.what());
  return 1;
}
