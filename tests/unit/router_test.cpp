// Router (SPEC §5.2.1): a table of routing values and the hosts that hold them.
#include "router.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using sched::RepoRange;
using sched::Router;

struct Case {
  std::optional<std::string> value;
  std::string host;  // "" = no holder
};

Router three_hosts() {
  return Router({{"h1", 0x00, 0x54}, {"h2", 0x55, 0xaa}, {"h3", 0xab, 0xff}});
}

TEST(Router, HexValuesGoByTheirFirstTwoDigits) {
  Router r = three_hosts();
  const Case cases[] = {
      {"00", "h1"},     {"0000000000000000000000000000000000000000", "h1"},
      {"54ffff", "h1"}, {"55", "h2"},
      {"5500aa", "h2"}, {"AA0B", "h2"},  // upper case is hex too
      {"aB", "h3"},     {"ff", "h3"},
      {"FFx", "h3"},    // only the first two characters count
      {"12345", "h1"},  // a pfile_pk is routed by its first two digits read as hex
      {"99", "h2"},
  };
  for (const auto& c : cases) EXPECT_EQ(r.holder(c.value), c.host) << *c.value;
}

TEST(Router, OtherValuesGoByTheFirstByteOfTheirSha1) {
  // SHA-1 first bytes: "hello" aa, "" da, "x" 11, "g" 54, "z" 39, "1" 35.
  EXPECT_EQ(Router::key_byte("hello"), 0xaau);
  EXPECT_EQ(Router::key_byte(""), 0xdau);
  EXPECT_EQ(Router::key_byte("x"), 0x11u);
  EXPECT_EQ(Router::key_byte("g"), 0x54u);
  EXPECT_EQ(Router::key_byte("z"), 0x39u);
  Router r = three_hosts();
  EXPECT_EQ(r.holder(std::optional<std::string>("hello")), "h2");
  EXPECT_EQ(r.holder(std::optional<std::string>("")), "h3");
  EXPECT_EQ(r.holder(std::optional<std::string>("x")), "h1");
  EXPECT_EQ(r.holder(std::optional<std::string>("g")), "h1");
  EXPECT_EQ(r.holder(std::optional<std::string>("1")), "h1");  // one digit is not enough: 0x35
}

TEST(Router, NullAndUncoveredValuesHaveNoHolder) {
  Router r({{"h1", 0x00, 0x0f}, {"h2", 0xf0, 0xff}});
  EXPECT_EQ(r.holder(std::nullopt), "");
  EXPECT_EQ(r.holder(std::optional<std::string>("80")), "");
  EXPECT_EQ(r.holder(std::optional<std::string>("0f")), "h1");
  EXPECT_EQ(r.holder(std::optional<std::string>("f0")), "h2");
}

TEST(Router, NoRangesMeansNoRouting) {
  Router r({});
  EXPECT_FALSE(r.routes());
  EXPECT_EQ(r.holder(std::optional<std::string>("00")), "");
}

TEST(Router, OverlappingRangesFirstInFileOrderWins) {
  Router r({{"h1", 0x00, 0x80}, {"h2", 0x40, 0xff}, {"h1", 0xf0, 0xff}});
  EXPECT_EQ(r.holder(std::optional<std::string>("50")), "h1");
  EXPECT_EQ(r.holder(std::optional<std::string>("81")), "h2");
  EXPECT_EQ(r.hosts(), (std::vector<std::string>{"h1", "h2"}));
}

}  // namespace
