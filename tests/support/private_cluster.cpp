// PrivateCluster: the fixture script's start, restart, down, up and stop on a state dir of
// the test's own (see private_cluster.hpp).
#include "private_cluster.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace test {

PrivateCluster::PrivateCluster() : state_(dir_.path() + "/pg") {
  script("start");
  std::ifstream in(state_ + "/conninfo");
  std::getline(in, conninfo_);
  if (conninfo_.empty()) throw std::runtime_error("pg_cluster.sh wrote no conninfo in " + state_);
}

PrivateCluster::~PrivateCluster() {
  try {
    script("stop");
  } catch (const std::exception&) {
    // Nothing more to do in a destructor; the script's temp dir names say what was left.
  }
}

void PrivateCluster::restart() {
  script("restart");
}
void PrivateCluster::down() {
  script("down");
}
void PrivateCluster::up() {
  script("up");
}

void PrivateCluster::script(const std::string& command) {
  RunResult r = run({source_dir() + "/tests/fixtures/pg_cluster.sh", command, state_});
  if (r.exit_code() != 0)
    throw std::runtime_error("pg_cluster.sh " + command + " " + state_ + " failed: " + r.output);
}

}  // namespace test
