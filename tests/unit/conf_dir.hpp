// ConfDir: a scheduler conf dir written by a unit test (scheduler.conf, agents/*.conf), with
// load() and the ConfigError message of a load that fails.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "config.hpp"
#include "support.hpp"

namespace test {

inline constexpr const char* kMinimal = "[hosts]\nlocalhost = localhost /opt/agents 4\n";

class ConfDir {
 public:
  explicit ConfDir(const std::string& scheduler_conf = kMinimal) {
    write("scheduler.conf", scheduler_conf);
  }
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(path(name)).parent_path());
    std::ofstream(path(name)) << text;
  }
  std::string path(const std::string& name = "") const {
    return name.empty() ? dir_.path() : dir_.path() + "/" + name;
  }
  sched::Config load() const { return sched::load_config(dir_.path()); }
  // The ConfigError message of load(), or "" when it loads.
  std::string error() const {
    try {
      load();
    } catch (const sched::ConfigError& e) {
      return e.what();
    }
    return "";
  }

 private:
  test::TempDir dir_;
};

}  // namespace test
