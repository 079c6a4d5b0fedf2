// ScanSetup: what the scanner DB tests and the step benchmark share — a real scheduler
// (SchedulerHarness) whose conf dir has the shipped confs of copyright, license and mimetype
// (their [plugin] groups verbatim; command with --repository and --db) plus a tests-only
// `unpack` placeholder (fake_agent, `args = $upload`) for their `depends = unpack`; a repository
// of its own; uploads of files made by the caller; steps queued with `jobctl queue`.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/db.hpp"
#include "agent/repository.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace scantest {

extern const std::vector<std::string> kAgents;  // copyright, license, mimetype

struct File {
  std::string name;
  std::string bytes;
  std::string sha1;      // set by add_upload
  std::string pfile_pk;  // set by add_upload
};

std::string corpus();              // tests/data/scan
std::vector<File> corpus_files();  // its files but expected.txt and README.md, by name
std::string read_all(const std::string& path);
std::size_t line_of(const std::string& bytes, long long offset);  // line of a byte, from 1

class ScanSetup {
 public:
  // The scheduler is started; its database is a new one in `cluster` (a maintenance conninfo;
  // "" = the pg fixture's). `max` = agents at once on the host.
  explicit ScanSetup(const std::string& cluster = "", int max = 4);

  // A new upload holding `files`: their bytes go into the repository, pfile rows are shared by
  // content, one uploadtree row each. Sets each file's sha1 and pfile_pk. Returns upload_pk.
  std::string add_upload(std::vector<File>& files);
  // `jobctl queue <agent> --upload N`: returns the agent's jq_pk; throws on failure.
  long long queue(const std::string& agent, const std::string& upload);
  long long count(const std::string& sql);
  // The result rows of `agent` ("" = all three) as text, for comparing runs.
  std::multiset<std::string> results(const std::string& agent = "");
  // What one clean run of `agent` ("" = all three) must write for `files`, in results()'
  // format (from the detectors and libmagic, which detect_test checks against expected.txt).
  std::multiset<std::string> clean_results(const std::vector<File>& files,
                                           const std::string& agent = "");

  test::TempDir repo_dir;
  test::SchedulerHarness h;
  agent::Database db;
  agent::Repository repo;
};

}  // namespace scantest
