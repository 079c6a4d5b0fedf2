// agent_pk(): get-or-create of the agent row, including 50 processes released at one instant
// on a fresh database.
#include "agent/agent_pk.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "schema_install.hpp"
#include "support.hpp"

extern char** environ;

namespace {

TEST(AgentPk, CreatesOnceAndFindsAfterwards) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  agent::Database db(tdb.conninfo());
  const int a = agent::agent_pk(db, "copyright", "1.0.abc", "copyright scanner");
  EXPECT_GT(a, 0);
  EXPECT_EQ(agent::agent_pk(db, "copyright", "1.0.abc", "other text"), a);
  const int b = agent::agent_pk(db, "copyright", "1.1.def", "copyright scanner");
  EXPECT_NE(a, b);
  EXPECT_EQ(tdb.rows("SELECT agent_name, agent_rev, agent_desc, agent_enabled FROM agent "
                     "ORDER BY agent_pk"),
            (std::vector<std::string>{"copyright|1.0.abc|copyright scanner|t",
                                      "copyright|1.1.def|copyright scanner|t"}));
  EXPECT_THROW(agent::agent_pk(db, "", "1", ""), agent::Error);
}

// A child on `argv` with stdout to a new pipe, inheriting `keep_fd`; returns {pid, stdout fd}.
std::pair<pid_t, int> spawn(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0]);
  return {pid, out[0]};
}

std::string read_all(int fd) {
  std::string s;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return s;
}

TEST(AgentPk, FiftyProcessesStartingAtOnceGetOneRow) {
  test::TempDatabase tdb;
  jobline::schema::install(tdb.conninfo());
  // The barrier: every child connects, then blocks reading this pipe until we close it.
  int barrier[2];
  ASSERT_EQ(::pipe2(barrier, O_CLOEXEC), 0);
  ASSERT_EQ(::fcntl(barrier[0], F_SETFD, 0), 0);  // the read end is inherited
  const std::string agent = test::build_dir() + "/tests/agents/kill_agent/kill_agent";
  constexpr int n = 50;
  std::vector<std::pair<pid_t, int>> children;
  for (int i = 0; i < n; ++i) {
    children.push_back(spawn({agent, "--db", tdb.conninfo(), "--agent-pk-only", "--wait-fd",
                              std::to_string(barrier[0])}));
  }
  ::close(barrier[0]);
  const std::string connected =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid()";
  EXPECT_TRUE(test::eventually([&] { return tdb.query(connected) == std::to_string(n); }))
      << tdb.query(connected) << " of " << n << " connected";
  ::close(barrier[1]);  // go

  std::set<std::string> pks;
  for (auto& [pid, fd] : children) {
    std::string out = read_all(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    pks.insert(out);
  }
  EXPECT_EQ(pks.size(), 1u);
  EXPECT_EQ(tdb.query("SELECT count(*) FROM agent"), "1");
  EXPECT_EQ(*pks.begin(), tdb.query("SELECT agent_pk FROM agent"));
}

}  // namespace
