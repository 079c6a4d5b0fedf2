// Tests of agent::take_scheduler_args (session.hpp): the scheduler's options are taken out of
// argv in both forms, the agent's own arguments stay in order, bad values are reported.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/session.hpp"

namespace {

// A mutable argv for one test, NULL-terminated like the real one.
struct Argv {
  explicit Argv(std::vector<std::string> args) : storage(std::move(args)) {
    for (auto& s : storage) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    argc = static_cast<int>(storage.size());
  }
  std::vector<std::string> rest() const {
    std::vector<std::string> out;
    for (int i = 0; i < argc; ++i) out.emplace_back(pointers[static_cast<std::size_t>(i)]);
    return out;
  }
  std::vector<std::string> storage;
  std::vector<char*> pointers;
  int argc = 0;
};

TEST(SchedulerArgs, TakesEveryOptionInTheEqualsForm) {
  Argv a({"agent", "--scheduler_start", "--jobId=12", "--jqId=34", "--config=/etc/jobline",
          "--userID=5", "--groupID=6", "--db=dbname=x"});
  const agent::SchedulerArgs args = agent::take_scheduler_args(a.argc, a.pointers.data());
  EXPECT_TRUE(args.scheduler_start);
  EXPECT_EQ(args.job_id, 12);
  EXPECT_EQ(args.jq_id, 34);
  EXPECT_EQ(args.config, "/etc/jobline");
  EXPECT_EQ(args.user_id, 5);
  EXPECT_EQ(args.group_id, 6);
  EXPECT_EQ(args.db, "dbname=x");
  EXPECT_EQ(a.rest(), std::vector<std::string>{"agent"});
  EXPECT_EQ(a.pointers[1], nullptr);
}

TEST(SchedulerArgs, TakesTheSpaceFormAndKeepsTheAgentsOwnArgumentsInOrder) {
  Argv a(
      {"agent", "-v", "--jobId", "7", "file1", "--config", "/c", "--own=1", "-c", "/d", "file2"});
  const agent::SchedulerArgs args = agent::take_scheduler_args(a.argc, a.pointers.data());
  EXPECT_FALSE(args.scheduler_start);
  EXPECT_EQ(args.job_id, 7);
  EXPECT_EQ(args.config, "/d");  // the last one wins
  EXPECT_FALSE(args.jq_id.has_value());
  EXPECT_EQ(a.rest(), (std::vector<std::string>{"agent", "-v", "file1", "--own=1", "file2"}));
}

// own_args: the same, on a copy; argv is left as it is.
TEST(SchedulerArgs, OwnArgsLeaveArgvAlone) {
  Argv a({"agent", "--scheduler_start", "--window", "8", "--jqId=3", "file"});
  EXPECT_EQ(agent::own_args(a.argc, a.pointers.data()),
            (std::vector<std::string>{"--window", "8", "file"}));
  EXPECT_EQ(a.argc, 6);
  EXPECT_EQ(a.rest(), (std::vector<std::string>{"agent", "--scheduler_start", "--window", "8",
                                                "--jqId=3", "file"}));
  Argv missing({"agent", "--jqId"});
  EXPECT_THROW(agent::own_args(missing.argc, missing.pointers.data()), agent::Error);
}

TEST(SchedulerArgs, AbsentOptionsStayEmpty) {
  Argv a({"agent", "item"});
  const agent::SchedulerArgs args = agent::take_scheduler_args(a.argc, a.pointers.data());
  EXPECT_FALSE(args.scheduler_start);
  EXPECT_FALSE(args.job_id || args.jq_id || args.user_id || args.group_id);
  EXPECT_FALSE(args.config || args.db);
  EXPECT_EQ(a.rest(), (std::vector<std::string>{"agent", "item"}));
}

TEST(SchedulerArgs, OnlyWholeOptionNamesMatch) {
  Argv a({"agent", "--jobIdx=3", "--configuration=x", "--scheduler_started"});
  const agent::SchedulerArgs args = agent::take_scheduler_args(a.argc, a.pointers.data());
  EXPECT_FALSE(args.job_id.has_value());
  EXPECT_FALSE(args.config.has_value());
  EXPECT_FALSE(args.scheduler_start);
  EXPECT_EQ(a.argc, 4);
}

TEST(SchedulerArgs, DoubleDashEndsTheSchedulersOptions) {
  Argv a({"agent", "--jqId=1", "--", "--jobId=2", "x"});
  const agent::SchedulerArgs args = agent::take_scheduler_args(a.argc, a.pointers.data());
  EXPECT_EQ(args.jq_id, 1);
  EXPECT_FALSE(args.job_id.has_value());
  EXPECT_EQ(a.rest(), (std::vector<std::string>{"agent", "--", "--jobId=2", "x"}));
}

struct BadCase {
  std::vector<std::string> args;
  std::string mentions;
};

class SchedulerArgsBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(SchedulerArgsBad, ThrowsAnErrorNamingTheOption) {
  Argv a(GetParam().args);
  try {
    agent::take_scheduler_args(a.argc, a.pointers.data());
    FAIL() << "no agent::Error";
  } catch (const agent::Error& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().mentions), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SchedulerArgsBad,
    ::testing::Values(BadCase{{"a", "--jobId=x"}, "--jobId"}, BadCase{{"a", "--jqId="}, "--jqId"},
                      BadCase{{"a", "--userID=12abc"}, "--userID"},
                      BadCase{{"a", "--groupID=99999999999999999999"}, "--groupID"},
                      BadCase{{"a", "--jobId"}, "needs a value"},
                      BadCase{{"a", "--config"}, "--config"},
                      BadCase{{"a", "--scheduler_start=1"}, "takes no value"}));

}  // namespace
