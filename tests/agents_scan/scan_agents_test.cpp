// The scanner agents (copyright, license, mimetype) as the scheduler runs them: a real scheduler
// and PostgreSQL, the agents' shipped confs ([plugin] group verbatim, queued with `jobctl
// queue`), pfiles and a repository the test makes itself. Asserts: a step of each agent finds
// exactly the results of tests/data/scan/expected.txt; a re-run adds nothing; an agent SIGKILLed
// mid-run leaves, once the step is done, exactly the rows of one clean run.
// (`unpack` does not exist on this branch: the plugins' `depends = unpack` is met by a
// tests-only placeholder conf, fake_agent with `args = $upload`.)
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/db.hpp"
#include "agent/repository.hpp"
#include "copyright_detect.hpp"
#include "license_detect.hpp"
#include "scan_setup.hpp"
#include "scanner.hpp"
#include "scheduler_harness.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using namespace scantest;

class ScanAgents : public ::testing::Test, public ScanSetup {
 protected:
  void run_to_completion(long long jq) {
    ASSERT_TRUE(h.wait_ended(jq, 120s)) << h.log();
    ASSERT_EQ(h.end_bits(jq), 1) << h.endtext(jq) << "\n" << h.step_log(jq);
  }
};

TEST_F(ScanAgents, EachAgentFindsExactlyTheCorpusResultsAndARerunAddsNothing) {
  std::vector<File> files = corpus_files();
  ASSERT_GE(files.size(), 20u);
  const std::string upload = add_upload(files);
  std::vector<long long> steps;
  for (const auto& a : kAgents) steps.push_back(queue(a, upload));
  for (long long jq : steps) run_to_completion(jq);
  for (long long jq : steps) EXPECT_EQ(h.items(jq), static_cast<long long>(files.size()));

  // license_file and copyright against expected.txt: file, kind, line, value.
  std::map<std::string, const File*> by_pk;
  for (const File& f : files) by_pk[f.pfile_pk] = &f;
  std::multiset<std::string> got, want;
  const agent::Result lic = db.exec(
      "SELECT pfile_fk, rf_shortname, fl_start_byte FROM license_file JOIN license_ref ON rf_pk = "
      "rf_fk");
  for (int i = 0; i < lic.rows(); ++i) {
    const File& f = *by_pk.at(lic.get(i, 0));
    got.insert(f.name + "\tlicense\t" +
               std::to_string(line_of(f.bytes, std::stoll(lic.get(i, 2)))) + "\t" + lic.get(i, 1));
  }
  const agent::Result cr = db.exec(
      "SELECT pfile_fk, type, copy_startbyte, CASE type WHEN 'statement' THEN coalesce(holder, '') "
      "ELSE content END FROM copyright");
  for (int i = 0; i < cr.rows(); ++i) {
    const File& f = *by_pk.at(cr.get(i, 0));
    got.insert(f.name + "\t" + cr.get(i, 1) + "\t" +
               std::to_string(line_of(f.bytes, std::stoll(cr.get(i, 2)))) + "\t" + cr.get(i, 3));
  }
  std::ifstream in(corpus() + "/expected.txt");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') want.insert(line);
  EXPECT_EQ(got, want);

  // No license for files that have none; license_ref holds SPDX ids.
  EXPECT_EQ(
      count("SELECT count(*) FROM license_file lf JOIN uploadtree u ON u.pfile_fk = "
            "lf.pfile_fk WHERE u.ufile_name IN ('Python.h', 'gcc-README.Bugs', 'latin1.txt')"),
      0);
  EXPECT_GT(count("SELECT count(*) FROM license_ref"), 400);
  EXPECT_EQ(db.exec("SELECT rf_fullname FROM license_ref WHERE rf_shortname = 'MIT'").get(0, 0),
            "MIT License");

  // mimetype: libmagic's answer for every file.
  EXPECT_EQ(count("SELECT count(*) FROM pfile WHERE pfile_mimetypefk IS NULL"), 0);
  auto type_of = [&](const std::string& name) {
    return db
        .exec(
            "SELECT mimetype_name FROM uploadtree JOIN pfile ON pfile_pk = pfile_fk JOIN mimetype "
            "ON mimetype_pk = pfile_mimetypefk WHERE ufile_name = $1",
            {name})
        .get(0, 0);
  };
  EXPECT_EQ(type_of("zlib.h"), "text/x-c");
  EXPECT_EQ(type_of("bash.copyright"), "text/plain");
  const auto first = results();
  EXPECT_EQ(first, clean_results(files));

  // Every pfile is marked scanned once per agent; a re-run finds nothing to do.
  EXPECT_EQ(count("SELECT count(*) FROM pfile_scanned"),
            static_cast<long long>(files.size() * kAgents.size()));
  std::vector<long long> again;
  for (const auto& a : kAgents) again.push_back(queue(a, upload));
  for (long long jq : again) run_to_completion(jq);
  for (long long jq : again) EXPECT_EQ(h.items(jq), 0) << h.step_log(jq);
  EXPECT_EQ(results(), first);

  // A second upload sharing all but one file: only the new file is scanned.
  std::vector<File> more = corpus_files();
  more.push_back(
      {"new.c", "// SPDX-License-Identifier: MIT\n// Copyright 2026 New Holder\n", "", ""});
  const std::string upload2 = add_upload(more);
  std::vector<long long> third;
  for (const auto& a : kAgents) third.push_back(queue(a, upload2));
  for (long long jq : third) run_to_completion(jq);
  for (long long jq : third) EXPECT_EQ(h.items(jq), 1) << h.step_log(jq);
  EXPECT_EQ(results(), clean_results(more));
}

TEST_F(ScanAgents, FilesMissingOrUnreadableAreReportedAndLeftForLater) {
  std::vector<File> files = {{"ok.c", "// SPDX-License-Identifier: MIT\n", "", ""},
                             {"gone.c", "// SPDX-License-Identifier: ISC\n", "", ""},
                             {"dir.c", "// SPDX-License-Identifier: Zlib\n", "", ""}};
  const std::string upload = add_upload(files);
  fs::remove(repo.path_of(files[1].sha1));  // missing from the repository
  const std::string dir = repo.path_of(files[2].sha1);
  fs::remove(dir);
  fs::create_directory(dir);  // there, but not a readable file
  for (const auto& agent : kAgents) {
    const long long jq = queue(agent, upload);
    run_to_completion(jq);
    const std::string log = h.step_log(jq);
    EXPECT_NE(log.find("pfile " + files[1].pfile_pk + ": cannot read"), std::string::npos) << log;
    EXPECT_NE(log.find("pfile " + files[2].pfile_pk + ": cannot read"), std::string::npos) << log;
  }
  // Only the good file is scanned, by each agent; the others are offered again later.
  EXPECT_EQ(count("SELECT count(*) FROM pfile_scanned WHERE pfile_fk = " + files[0].pfile_pk), 3);
  EXPECT_EQ(count("SELECT count(*) FROM pfile_scanned"), 3);
  EXPECT_EQ(results("license"), clean_results({files[0]}, "license"));
}

// A group that PostgreSQL aborts (a deadlock between agents inserting the same new mime type
// names, here forced by a trigger on the group's second pfile update) is run again by libagent.
// The MIME type row that group inserted is gone with it: the agent must not reuse its pk (it
// did: the foreign key then failed the agent).
TEST_F(ScanAgents, MimetypeRunsAGroupAbortedByADeadlockAgainWithoutItsRolledBackTypes) {
  db.exec("CREATE SEQUENCE test_abort_once");
  db.exec(R"(
CREATE FUNCTION test_abort_second_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE n integer := coalesce(nullif(current_setting('test.updates', true), ''), '0')::int + 1;
BEGIN
  PERFORM set_config('test.updates', n::text, true);  -- counts this transaction's updates
  IF n = 2 THEN
    IF nextval('test_abort_once') = 1 THEN
      RAISE EXCEPTION 'deadlock forced by the test' USING ERRCODE = '40P01';
    END IF;
  END IF;
  RETURN NEW;
END
$fn$)");
  db.exec(R"(
CREATE TRIGGER test_abort_second_update BEFORE UPDATE OF pfile_mimetypefk ON pfile
  FOR EACH ROW EXECUTE FUNCTION test_abort_second_update())");
  // Files of one type (text/plain): the first inserts the type, the next ones find it.
  std::vector<File> files;
  for (int i = 0; i < 20; ++i)
    files.push_back({"plain-" + std::to_string(i) + ".txt",
                     "plain words, file " + std::to_string(i) + "\n", "", ""});
  const std::string upload = add_upload(files);
  const long long jq = queue("mimetype", upload);
  run_to_completion(jq);
  EXPECT_EQ(count("SELECT count(*) FROM test_abort_once WHERE is_called"), 1)
      << "no group was aborted";
  const std::string log = h.step_log(jq);
  EXPECT_EQ(log.find("ERROR"), std::string::npos) << log;
  EXPECT_EQ(results("mimetype"), clean_results(files, "mimetype"));
}

// The pids of the scheduler's children running `agent`.
std::vector<pid_t> agent_pids(pid_t scheduler, const std::string& agent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string text;
    try {
      text = scanner::read_file((e.path() / "stat").string(), 4096);
    } catch (const std::exception&) {
      continue;  // it has gone
    }
    const auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == scheduler && state != 'Z' && text.substr(open + 1, close - open - 1) == agent)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

class ScanAgentsKill : public ScanAgents, public ::testing::WithParamInterface<std::string> {};

TEST_P(ScanAgentsKill, SigkillMidRunThenTheStepGivesOneCleanRunsRows) {
  const std::string agent = GetParam();
  // 3,000 distinct small files: the corpus's small ones, each with a line of its own.
  std::vector<File> base;
  for (File& f : corpus_files())
    if (f.bytes.size() < 8192) base.push_back(std::move(f));
  std::vector<File> files;
  for (int i = 0; files.size() < 3000; ++i) {
    const File& b = base[static_cast<std::size_t>(i) % base.size()];
    files.push_back({std::to_string(i) + "-" + b.name,
                     b.bytes + "\n/* variant " + std::to_string(i) + " */\n", "", ""});
  }
  const std::string upload = add_upload(files);
  const long long total = static_cast<long long>(files.size());
  const long long jq = queue(agent, upload);

  // Kill one agent of the step once it has committed some files and before it is done. Once
  // some are committed the agent is stopped and the count read again, so that the kill is known
  // to come mid-run (a fast agent could otherwise finish between the look and the kill).
  const std::string scanned =
      "SELECT count(*) FROM pfile_scanned JOIN agent ON agent_pk = agent_fk WHERE agent_name = '" +
      agent + "'";
  std::vector<pid_t> pids;
  ASSERT_TRUE(test::eventually(
      [&] {
        pids = agent_pids(h.process()->pid(), agent);
        return !pids.empty() && count(scanned) > 0;
      },
      60s))
      << "count " << count(scanned) << ", agents " << pids.size() << "\n"
      << h.log();
  ASSERT_EQ(::kill(pids.front(), SIGSTOP), 0);
  const long long at_kill = count(scanned);
  ASSERT_EQ(::kill(pids.front(), SIGKILL), 0);
  EXPECT_LT(at_kill, total) << "the agent finished before it was stopped";

  run_to_completion(jq);
  EXPECT_TRUE(test::eventually([&] { return h.log().find("SIGKILL") != std::string::npos; }, 10s))
      << h.log();
  EXPECT_EQ(count(scanned), total);
  // Exactly one clean run's rows: none missing, none twice, and nothing from the others.
  EXPECT_EQ(results(agent), clean_results(files, agent));
  for (const auto& other : kAgents) {
    if (other != agent) {
      EXPECT_TRUE(results(other).empty()) << other;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Agents, ScanAgentsKill, ::testing::ValuesIn(kAgents));

}  // namespace
