// The unpack agent killed with SIGKILL — while its transaction waits inside the database, and
// at random instants — then run again: exactly one clean tree, no stray pfile or ars row. And
// the whole pipeline: a scheduler, `jobctl upload <dir>`, the unpack step completes.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <random>

#include "agent/db.hpp"
#include "scheduler_harness.hpp"
#include "unpack_fixture.hpp"

namespace {

using unpack_test::UnpackTest;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A directory of `n` files (n/2 distinct contents) in a few subdirectories, and a tarball.
void make_tree(const std::string& d, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string sub = d + "/s" + std::to_string(i % 7);
    fs::create_directories(sub);
    unpack_test::write_file(sub + "/f" + std::to_string(i),
                            "content " + std::to_string(i / 2) + "\n" + std::string(100, 'x'));
  }
  unpack_test::write_archive(d + "/s0/nested.tar.gz", "gnutar", {"gzip"},
                             {{"in/a", "aaa\n"}, {"in/b", "content 1\n"}});
}

class UnpackKill : public UnpackTest {
 protected:
  std::unique_ptr<test::Child> start(long long upload) {
    return std::make_unique<test::Child>(
        std::vector<std::string>{test::build_dir() + "/agents/unpack/unpack", "--db", db.conninfo(),
                                 "--repository", repo(), std::to_string(upload)});
  }
  // Waits until no other session is left in the database (a killed client's backend ends
  // its transaction when it notices the client is gone).
  bool settled() {
    return test::eventually([&] {
      return db.query(
                 "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND pid <> pg_backend_pid()") == "0";
    });
  }
  // The rows that must not exist twice: one tree, one success.
  std::vector<std::string> summary(long long up) {
    const std::string u = std::to_string(up);
    return db.rows("SELECT (SELECT count(*) FROM uploadtree WHERE upload_fk = " + u +
                   "), (SELECT count(*) FROM unpack_ars WHERE upload_fk = " + u +
                   "), (SELECT count(*) FROM pfile)");
  }
};

TEST_F(UnpackKill, KilledInsideItsTransactionLeavesNothingAndTheRerunIsClean) {
  const std::string d = work() + "/src";
  make_tree(d, 60);
  long long ref = add_upload(d);
  ASSERT_EQ(run_unpack(ref).exit_code(), 0);
  const auto want = tree(ref);
  const auto pfiles = count("SELECT count(*) FROM pfile");
  ASSERT_EQ(want.size(), 60u + 7u + 1u + 1u + 3u);  // files, dirs, root, tarball (in, a, b)

  long long up = add_upload(d);
  auto blocker = std::make_unique<agent::Database>(db.conninfo());
  blocker->begin();
  // Reads pass, writes wait: the agent's last statement, its ars row, blocks.
  blocker->exec("LOCK TABLE unpack_ars IN EXCLUSIVE MODE");
  auto child = start(up);
  // The agent has written its pfile and uploadtree rows and waits to write its ars row, all
  // in one transaction.
  ASSERT_TRUE(test::eventually([&] {
    return db.query(
               "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE 'INSERT INTO %unpack_ars%'") == "1";
  }));
  child->signal(SIGKILL);
  auto status = child->wait();
  ASSERT_TRUE(status && WIFSIGNALED(*status));
  blocker.reset();  // its transaction ends with its session
  ASSERT_TRUE(settled());
  EXPECT_EQ(summary(up), (std::vector<std::string>{"0|0|" + std::to_string(pfiles)}));

  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(tree(up), want);
  EXPECT_EQ(summary(up), (std::vector<std::string>{std::to_string(want.size()) + "|1|" +
                                                   std::to_string(pfiles)}));
}

TEST_F(UnpackKill, KilledAtRandomInstantsThenRerunGivesOneCleanTree) {
  const std::string d = work() + "/src";
  make_tree(d, 400);
  long long ref = add_upload(d);
  ASSERT_EQ(run_unpack(ref).exit_code(), 0);
  const auto want = tree(ref);
  const auto pfiles = count("SELECT count(*) FROM pfile");

  long long up = add_upload(d);
  std::mt19937 rng(12345);
  for (int round = 0; round < 12; ++round) {
    auto child = start(up);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));  // the kill's instant
    child->signal(SIGKILL);
    child->wait();
  }
  ASSERT_TRUE(settled());
  auto r = run_unpack(up);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(tree(up), want);
  EXPECT_EQ(summary(up), (std::vector<std::string>{std::to_string(want.size()) + "|1|" +
                                                   std::to_string(pfiles)}));
}

// Two runs for the same upload at once (a scheduler that re-feeds a line, two hosts): the
// upload's row lock serialises their transactions; the second finds the first one's success.
TEST_F(UnpackKill, TwoRunsAtOnceGiveOneTree) {
  const std::string d = work() + "/src";
  make_tree(d, 200);
  long long ref = add_upload(d);
  ASSERT_EQ(run_unpack(ref).exit_code(), 0);
  const auto want = tree(ref);
  const auto pfiles = count("SELECT count(*) FROM pfile");
  long long up = add_upload(d);
  auto one = start(up);
  auto two = start(up);
  auto s1 = one->wait(60s), s2 = two->wait(60s);
  ASSERT_TRUE(s1 && WIFEXITED(*s1) && WEXITSTATUS(*s1) == 0);
  ASSERT_TRUE(s2 && WIFEXITED(*s2) && WEXITSTATUS(*s2) == 0);
  EXPECT_EQ(tree(up), want);
  EXPECT_EQ(summary(up), (std::vector<std::string>{std::to_string(want.size()) + "|1|" +
                                                   std::to_string(pfiles)}));
}

// The pipeline: scheduler + `jobctl upload <dir>` queues unpack (its plugin: default = true,
// args = $upload); the step completes and the rows are there.
TEST(UnpackEndToEnd, JobctlUploadRunsUnpack) {
  test::TempDir t;
  const std::string d = t.path() + "/project";
  make_tree(d, 20);
  test::SchedulerSettings s;
  test::AgentConf unpack;
  unpack.name = "unpack";
  unpack.command =
      test::build_dir() + "/agents/unpack/unpack --repository " + t.path() + "/repository";
  unpack.extra = "[plugin]\ntitle = Unpack\nargs = $upload\ndefault = true\n";
  test::SchedulerHarness h(s);
  // The agent finds its database with --db (a conf dir could hold a Db.conf instead).
  unpack.command += " --db '" + h.db().conninfo() + "'";
  h.settings().agents.push_back(unpack);
  h.write_conf();
  h.start();
  auto r = test::run({test::build_dir() + "/jobctl/jobctl", "-c", h.conf_dir(), "--db",
                      h.db().conninfo(), "upload", d});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const std::string upload = h.db().query("SELECT max(upload_pk) FROM upload");
  const long long jq = std::stoll(h.db().query(
      "SELECT jq_pk FROM jobqueue JOIN job ON jq_job_fk = job_pk WHERE jq_type = 'unpack' AND "
      "job_upload_fk = " +
      upload));
  ASSERT_TRUE(h.wait_ended(jq, 60s)) << h.log();
  EXPECT_EQ(h.endtext(jq), "Completed") << h.step_log(jq);
  EXPECT_EQ(h.end_bits(jq), 1);
  EXPECT_EQ(h.items(jq), 23);  // 20 files, the tarball and its two files
  EXPECT_EQ(h.db().query("SELECT count(*) FROM uploadtree WHERE upload_fk = " + upload),
            "32");  // the root, 7 directories, 20 files, the tarball, in/, in/a, in/b
  EXPECT_EQ(
      h.db().query("SELECT count(*) FROM unpack_ars WHERE ars_success AND upload_fk = " + upload),
      "1");
  EXPECT_TRUE(
      unpack_test::contains(h.step_log(jq), ": \"upload " + upload + ": 32 entries, 23 files"))
      << h.step_log(jq);
}

}  // namespace

// A refused upload fails its step at once (FATAL: no retries) with the reason as jq_endtext.
TEST(UnpackEndToEnd, RefusedUploadFailsTheStepWithItsReason) {
  test::TempDir t;
  const std::string file = t.path() + "/cut.tar.gz";
  unpack_test::write_archive(file, "gnutar", {"gzip"}, {{"f", std::string(100'000, 'x') + "!"}});
  const std::string bytes = unpack_test::read_file(file);
  unpack_test::write_file(file, bytes.substr(0, bytes.size() / 2));
  test::SchedulerHarness h;
  test::AgentConf unpack;
  unpack.name = "unpack";
  unpack.command = test::build_dir() + "/agents/unpack/unpack --repository " + t.path() +
                   "/repository --db '" + h.db().conninfo() + "'";
  unpack.extra = "[plugin]\ntitle = Unpack\nargs = $upload\ndefault = true\n";
  h.settings().agents.push_back(unpack);
  h.write_conf();
  h.start();
  auto r = test::run({test::build_dir() + "/jobctl/jobctl", "-c", h.conf_dir(), "--db",
                      h.db().conninfo(), "upload", file});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const std::string upload = h.db().query("SELECT max(upload_pk) FROM upload");
  const long long jq = std::stoll(h.db().query(
      "SELECT jq_pk FROM jobqueue JOIN job ON jq_job_fk = job_pk WHERE job_upload_fk = " + upload));
  ASSERT_TRUE(h.wait_ended(jq, 60s)) << h.log();
  EXPECT_EQ(h.end_bits(jq), 2);
  EXPECT_EQ(h.endtext(jq).rfind(
                "FATAL: upload " + upload + ": 'cut.tar.gz': corrupt or truncated archive (", 0),
            0u)
      << h.endtext(jq);
  EXPECT_EQ(h.db().query("SELECT count(*) FROM uploadtree"), "0");
}
