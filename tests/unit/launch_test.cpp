// An agent's command line on a local and a remote host (SPEC §5.3).
#include <gtest/gtest.h>

#include "launch.hpp"

namespace {

using sched::AgentType;
using sched::Config;
using sched::HostConfig;
using sched::launch_for;
using sched::LaunchArgs;

struct Fixture {
  Config config;
  AgentType type;
  HostConfig local{"here", "localhost", "/opt/agents", 4};
  HostConfig remote{"far", "10.1.2.3", "/srv/agents", 4};
  Fixture() {
    config.conf_dir = "/etc/jobline";
    config.ssh_command = {"ssh", "-o", "BatchMode=yes"};
    type.name = "copyright";
    type.command = {"copyright", "--fast", "two words"};
  }
};

TEST(Launch, LocalArgvFollowsTheContract) {
  Fixture f;
  auto l = launch_for(f.config, f.type, f.local, LaunchArgs{12, 34, 5, 6, "-x 'a b' \"c\""});
  std::vector<std::string> want{"/opt/agents/copyright/copyright",
                                "--fast",
                                "two words",
                                "--scheduler_start",
                                "--jobId=12",
                                "--jqId=34",
                                "--config=/etc/jobline",
                                "--userID=5",
                                "--groupID=6",
                                "-x",
                                "a b",
                                "c"};
  EXPECT_EQ(l.argv, want);
  EXPECT_EQ(l.cwd, "/opt/agents/copyright");
}

TEST(Launch, AbsoluteCommandAndOwnConfigDir) {
  Fixture f;
  f.type.command = {"/usr/share/fossology/nomos/agent/nomos"};
  f.type.config_dir = "/etc/fossology";
  auto l = launch_for(f.config, f.type, f.local, LaunchArgs{1, 2, 0, 0, std::nullopt});
  EXPECT_EQ(l.argv.front(), "/usr/share/fossology/nomos/agent/nomos");
  EXPECT_EQ(l.argv[4], "--config=/etc/fossology");
  EXPECT_EQ(l.cwd, "/usr/share/fossology/nomos/agent");
}

TEST(Launch, RemoteGoesThroughSshWithOneQuotedCommand) {
  Fixture f;
  auto l = launch_for(f.config, f.type, f.remote, LaunchArgs{1, 2, 0, 0, "\"it's\""});
  ASSERT_EQ(l.argv.size(), 5u);
  EXPECT_EQ(l.argv[0], "ssh");
  EXPECT_EQ(l.argv[3], "10.1.2.3");
  EXPECT_EQ(l.argv[4],
            "cd '/srv/agents/copyright' && exec '/srv/agents/copyright/copyright' '--fast' "
            "'two words' '--scheduler_start' '--jobId=1' '--jqId=2' '--config=/etc/jobline' "
            "'--userID=0' '--groupID=0' 'it'\\''s'");
  EXPECT_EQ(l.cwd, "");
}

TEST(Launch, UnbalancedQuotesInCmdArgsAreAClearError) {
  Fixture f;
  try {
    launch_for(f.config, f.type, f.local, LaunchArgs{1, 2, 0, 0, "-a \"unterminated"});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("jq_cmd_args"), std::string::npos) << e.what();
  }
}

}  // namespace
