// stamp_agent: bench_scheduler's agent for the INSERT → OK latency. No libraries beyond libc,
// so that its own start-up is as short as an agent's can be. `stamp_agent <dir> [scheduler
// options]`: writes CLOCK_REALTIME in ns to <dir>/<jqId> just before its OK, acknowledges every
// data line with OK, exits 0 at EOF.
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 64;
  const char* jq = "0";
  for (int i = 2; i < argc; ++i)
    if (strncmp(argv[i], "--jqId=", 7) == 0) jq = argv[i] + 7;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char tmp[4096], path[4096];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", argv[1], jq);
  snprintf(path, sizeof path, "%s/%s", argv[1], jq);
  FILE* f = fopen(tmp, "w");
  if (!f) return 65;
  fprintf(f, "%lld\n", static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
  fclose(f);
  rename(tmp, path);
  if (write(1, "OK\n", 3) != 3) return 66;
  char line[65536];
  while (fgets(line, sizeof line, stdin))
    if (write(1, "OK\n", 3) != 3) return 66;
  return 0;
}
