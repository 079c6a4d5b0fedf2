// JQ_SUBS substitution: every occurrence, longest key first, values never re-scanned, and the
// quoting is the caller's (here a stand-in that doubles quotes like PQescapeLiteral).
#include "jq_subs.hpp"

#include <gtest/gtest.h>

namespace {

std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

TEST(JqSubs, EveryOccurrenceBecomesAQuotedLiteral) {
  EXPECT_EQ(sched::substitute("a = $x OR b = $x", {{"$x", "1"}}, quote), "a = '1' OR b = '1'");
}

TEST(JqSubs, InjectionStaysALiteral) {
  EXPECT_EQ(sched::substitute("WHERE k = $x", {{"$x", "1'; DROP TABLE jobqueue; --"}}, quote),
            "WHERE k = '1''; DROP TABLE jobqueue; --'");
}

TEST(JqSubs, LongestKeyWinsAndValuesAreNotScannedAgain) {
  sched::Substitutions subs{{"$a", "$ab"}, {"$ab", "long"}};
  EXPECT_EQ(sched::substitute("$ab $a", subs, quote), "'long' '$ab'");
}

TEST(JqSubs, NoKeysOrEmptyKeysLeaveTheText) {
  EXPECT_EQ(sched::substitute("SELECT 1", {}, quote), "SELECT 1");
  EXPECT_EQ(sched::substitute("SELECT 1", {{"", "x"}}, quote), "SELECT 1");
}

}  // namespace
