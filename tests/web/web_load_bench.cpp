// web_load_bench: how long jobline-web's pages take with many steps in the database (issue 17:
// "a page answers in milliseconds with 10,000 steps"). Its own PostgreSQL cluster, a scheduler
// and jobline-web; N jobs of M ended steps, then one job of 10,000 steps; each page fetched 20
// times over HTTP, median and max printed. Built, not registered with CTest.
//   web_load_bench [jobs=100] [steps_per_job=100]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "private_cluster.hpp"
#include "web_client.hpp"

namespace {

void measure(int port, const std::string& path) {
  std::vector<double> ms;
  std::size_t bytes = 0;
  int status = 0;
  for (int i = 0; i < 20; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = webtest::get(port, path);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    bytes = r.body.size();
    status = r.status;
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("  {:<28} status {} {:>8} bytes  median {:6.1f} ms  max {:6.1f} ms\n", path, status,
             bytes, ms[ms.size() / 2], ms.back());
}

// Ended steps, inserted in one statement (no agent runs).
void add_steps(webtest::WebServer& w, int jobs, int per_job) {
  w.db().query(fmt::format(R"(
WITH j AS (INSERT INTO job (job_name, job_priority) SELECT 'bench ' || g, 0 FROM generate_series(1, {0}) g
           RETURNING job_pk)
INSERT INTO jobqueue (jq_job_fk, jq_type, jq_args, jq_starttime, jq_endtime, jq_endtext, jq_end_bits,
                      jq_itemsprocessed, jq_itemsknown)
SELECT job_pk, 'unpack', 'x', now() - interval '10 s', now(), 'Completed', 1, s, {1}
  FROM j, generate_series(1, {1}) s)",
                           jobs, per_job));
  // Statistics as autovacuum would gather them soon after such an insert.
  w.db().query("ANALYZE job; ANALYZE jobqueue; ANALYZE jobdepends");
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = argc > 1 ? std::atoi(argv[1]) : 100;
  int per_job = argc > 2 ? std::atoi(argv[2]) : 100;
  test::PrivateCluster cluster;
  webtest::WebServer w("", cluster.conninfo());
  w.start_web();
  add_steps(w, jobs, per_job);
  std::string first = w.db().query("SELECT min(job_pk) FROM job");
  fmt::print("{} jobs x {} steps = {} steps\n", jobs, per_job,
             w.db().query("SELECT count(*) FROM jobqueue"));
  for (const std::string& path : {std::string("/jobs"), std::string("/jobs?page=3"),
                                  "/job/" + first, std::string("/metrics"), std::string("/agents")})
    measure(w.port(), path);
  add_steps(w, 1, 10000);
  std::string big = w.db().query("SELECT max(job_pk) FROM job");
  fmt::print("plus one job of 10000 steps: {} steps\n",
             w.db().query("SELECT count(*) FROM jobqueue"));
  for (const std::string& path : {std::string("/jobs"), "/job/" + big, std::string("/metrics")})
    measure(w.port(), path);
  if (std::getenv("WEB_BENCH_PAUSE") != nullptr) {  // to look at the database with psql
    fmt::print("database: {}\n", w.db().conninfo());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(std::getenv("WEB_BENCH_PAUSE"))));
  }
  return 0;
}
