// PrivateCluster: a PostgreSQL cluster of one test's own (tests/fixtures/pg_cluster.sh in a
// temp dir), for tests that restart or stop the server: the shared `pg` fixture is never
// touched. Started by the constructor, removed (whatever its state) by the destructor.
#pragma once

#include <string>

#include "support.hpp"

namespace test {

class PrivateCluster {
 public:
  PrivateCluster();  // throws std::runtime_error with the script's output if it cannot start
  ~PrivateCluster();
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;

  // Conninfo of its maintenance database (for TempDatabase / SchedulerHarness).
  const std::string& conninfo() const { return conninfo_; }
  void restart();  // pg_ctl restart -m fast; returns once it accepts connections again
  void down();     // pg_ctl stop -m fast; the cluster stays, for up()
  void up();       // pg_ctl start on the same socket and port; returns once it accepts

 private:
  void script(const std::string& command);

  TempDir dir_;
  std::string state_;
  std::string conninfo_;
};

}  // namespace test
