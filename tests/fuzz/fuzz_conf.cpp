// libFuzzer target for the configuration loader: scheduler.conf, an agent conf and Db.conf from
// the input (conf_invariants.hpp), written into a private conf dir and loaded. Never crashes,
// loads or throws ConfigError with one line naming file:line, and a loaded config is in range.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "conf_invariants.hpp"

namespace {

std::string g_dir;  // this process's conf dir, removed at exit

void remove_dir() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string templ = std::filesystem::temp_directory_path().string() + "/fuzz_conf.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("fuzz_conf: mkdtemp");
    std::abort();
  }
  g_dir = templ;
  std::atexit(remove_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string violation = fuzzcheck::conf_violation(g_dir, bytes);
  if (!violation.empty()) {
    std::fprintf(stderr, "invariant violated: %s\n", violation.c_str());
    std::abort();
  }
  return 0;
}
