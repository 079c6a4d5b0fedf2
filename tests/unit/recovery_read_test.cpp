// Crash recovery reads /proc/<pid>/cmdline of the agents a killed scheduler left
// (scheduler/recovery.cpp). A process that exits between the open and the read makes read(2)
// fail (ESRCH); std::ifstream threw then, which stopped the scheduler at start. A directory
// gives the same kind of failure (open succeeds, read fails with EISDIR) without a race.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "recovery.hpp"
#include "support.hpp"

namespace {

TEST(RecoveryRead, AFileThatFailsToReadIsNoFileAndNothingIsThrown) {
  test::TempDir dir;
  std::optional<std::string> bytes;
  EXPECT_NO_THROW(bytes = sched::read_file(dir.path()));
  EXPECT_FALSE(bytes.has_value());
  EXPECT_FALSE(sched::read_file(dir.path() + "/missing").has_value());
  EXPECT_FALSE(sched::read_file("/proc/999999999/cmdline").has_value());
}

TEST(RecoveryRead, CmdlineKeepsEveryArgumentPastTheNuls) {
  auto bytes = sched::read_file("/proc/" + std::to_string(::getpid()) + "/cmdline");
  ASSERT_TRUE(bytes.has_value());
  // argv[0] then at least gtest's own arguments under CTest; a C string would stop at argv[0].
  EXPECT_GT(bytes->size(), std::strlen(bytes->c_str()));
  EXPECT_EQ(bytes->back(), '\0');
}

}  // namespace
