// The benchmarks' common result line (tests/bench/run_bench.sh collects them into
// docs/PERFORMANCE.md): one per figure, on stdout, tab-separated:
//   RESULT  id  what  figure  unit  limit-what  limit  ratio  target  met
// ratio = figure / limit unless `what` says otherwise; target is text such as ">= 0.8x";
// met is yes, no or - (no target). Everything else a benchmark prints is free-form progress.
#pragma once

#include <cmath>
#include <iostream>
#include <string>

#include <fmt/format.h>

namespace bench {

inline std::string number(double v) {
  if (!std::isfinite(v)) return "nan";
  double a = std::fabs(v);
  if (a >= 1000) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3f}", v);
}

// met: 1 yes, 0 no, -1 no target. limit_what "-": no limit (limit and ratio print as "-").
inline void result(const std::string& id, const std::string& what, double figure,
                   const std::string& unit, const std::string& limit_what, double limit,
                   double ratio, const std::string& target, int met) {
  bool none = limit_what == "-";
  std::cout << fmt::format("RESULT\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}", id, what, number(figure),
                           unit, limit_what, none ? "-" : number(limit),
                           none ? "-" : fmt::format("{:.3f}", ratio), target.empty() ? "-" : target,
                           met < 0 ? "-" : (met ? "yes" : "no"))
            << std::endl;
}

// The usual case: ratio = figure / limit against "at least k times" (k <= 0: no target).
inline void at_least(const std::string& id, const std::string& what, double figure,
                     const std::string& unit, const std::string& limit_what, double limit,
                     double k) {
  double ratio = limit > 0 ? figure / limit : NAN;
  result(id, what, figure, unit, limit_what, limit, ratio,
         k > 0 ? fmt::format(">= {}x", number(k)) : "-", k > 0 ? (ratio >= k ? 1 : 0) : -1);
}

}  // namespace bench
