// agent::Repository: the content-addressed naming rule and its refusals.
#include "agent/repository.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

TEST(Repository, PathFansOutByTheFirstFourHexDigitsInLowerCase) {
  agent::Repository repo("/srv/repo/");
  EXPECT_EQ(repo.root(), "/srv/repo");
  EXPECT_EQ(repo.path_of("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
            "/srv/repo/files/da/39/da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Repository, RefusesValuesThatAreNotASha1) {
  agent::Repository repo("/srv/repo");
  for (const char* bad :
       {"", "da39", "../../../../etc/passwd", "da39a3ee5e6b4b0d3255bfef95601890afd8070g",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709/"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(repo.path_of(bad), std::invalid_argument);
  }
}

TEST(Repository, DefaultRootComesFromTheEnvironmentFirst) {
  ::setenv("JOBLINE_REPOSITORY", "/tmp/some-repo", 1);
  EXPECT_EQ(agent::Repository::default_root(), "/tmp/some-repo");
  ::unsetenv("JOBLINE_REPOSITORY");
  EXPECT_FALSE(agent::Repository::default_root().empty());
}
