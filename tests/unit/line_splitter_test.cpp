// Unit tests of LineSplitter: framing, the partial tail, overlong lines cut once (64 KiB by
// default), and independence from how the stream is chunked (whole, byte by byte, random).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/protocol.hpp"

namespace {

using agent::protocol::LineSplitter;
using agent::protocol::max_line_bytes;
using Line = LineSplitter::Line;

std::vector<std::pair<std::string, bool>> plain(const std::vector<Line>& lines) {
  std::vector<std::pair<std::string, bool>> out;
  for (const Line& l : lines) out.emplace_back(l.text, l.cut);
  return out;
}

// Feeds `stream` in chunks whose sizes come from `next_size`; returns lines and the tail.
template <class NextSize>
std::pair<std::vector<std::pair<std::string, bool>>, std::string> split(const std::string& stream,
                                                                        std::size_t max,
                                                                        NextSize next_size) {
  LineSplitter splitter(max);
  std::vector<Line> out;
  for (std::size_t pos = 0; pos < stream.size();) {
    const std::size_t n = std::min(next_size(), stream.size() - pos);
    splitter.feed(std::string_view(stream).substr(pos, n), out);
    pos += n;
  }
  return {plain(out), std::string(splitter.partial())};
}

TEST(LineSplitter, SplitsLines) {
  LineSplitter splitter;
  std::vector<Line> out;
  splitter.feed("OK\nItemsProcessed 3\n\nHEART: 1 1\r\n", out);
  using P = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(plain(out),
            (P{{"OK", false}, {"ItemsProcessed 3", false}, {"", false}, {"HEART: 1 1\r", false}}));
  EXPECT_EQ(splitter.partial(), "");
}

TEST(LineSplitter, KeepsPartialTail) {
  LineSplitter splitter;
  std::vector<Line> out;
  splitter.feed("OK\nItems", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(splitter.partial(), "Items");
  splitter.feed("Processed 1", out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(splitter.partial(), "ItemsProcessed 1");
  splitter.feed("\n", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "ItemsProcessed 1");
  EXPECT_EQ(splitter.partial(), "");
  splitter.feed("half", out);
  splitter.clear_partial();
  splitter.feed("new\n", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].text, "new");
}

TEST(LineSplitter, CutsOverlongLinesAt64KiB) {
  LineSplitter splitter;  // max_line_bytes
  std::vector<Line> out;
  const std::string exact(max_line_bytes, 'a');
  const std::string over(max_line_bytes + 1000, 'b');
  splitter.feed(exact + "\n" + over + "\nOK\n", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, exact);
  EXPECT_FALSE(out[0].cut);
  EXPECT_EQ(out[1].text, std::string(max_line_bytes, 'b'));
  EXPECT_TRUE(out[1].cut);
  EXPECT_EQ(out[2].text, "OK");
  EXPECT_FALSE(out[2].cut);
}

TEST(LineSplitter, OverlongLineDeliveredOnceAndBounded) {
  LineSplitter splitter(8);
  std::vector<Line> out;
  splitter.feed("0123456789", out);  // cut as soon as the 9th byte arrives
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "01234567");
  EXPECT_TRUE(out[0].cut);
  EXPECT_EQ(splitter.partial(), "");
  for (int i = 0; i < 1000; ++i) splitter.feed(std::string(1024, 'z'), out);  // a flood
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(splitter.partial(), "");
  splitter.feed("tail\nnext", out);  // "tail" ends the dropped line; nothing delivered
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(splitter.partial(), "next");
  splitter.feed("\n", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "next");
  EXPECT_FALSE(out[1].cut);
}

TEST(LineSplitter, ExactlyMaxBytesIsNotCut) {
  LineSplitter splitter(4);
  std::vector<Line> out;
  splitter.feed("abcd", out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(splitter.partial(), "abcd");
  splitter.feed("\nabcde\n", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "abcd");
  EXPECT_FALSE(out[0].cut);
  EXPECT_EQ(out[1].text, "abcd");
  EXPECT_TRUE(out[1].cut);
}

// A stream mixing short, empty, exactly-max and overlong lines, with an unfinished tail.
std::string mixed_stream(std::size_t max, std::mt19937& rng) {
  std::string stream;
  for (int i = 0; i < 300; ++i) {
    std::size_t len = 0;
    switch (rng() % 5) {
      case 0:
        len = 0;
        break;
      case 1:
        len = max;
        break;
      case 2:
        len = max + 1 + rng() % (3 * max);
        break;
      default:
        len = rng() % max;
        break;
    }
    for (std::size_t k = 0; k < len; ++k) stream += static_cast<char>('a' + rng() % 26);
    stream += '\n';
  }
  stream += std::string("unfinished").substr(0, max);  // a tail that is not (yet) cut
  return stream;
}

TEST(LineSplitter, ChunkBoundariesDoNotMatter) {
  for (std::size_t max : {std::size_t{1}, std::size_t{7}, std::size_t{64}, max_line_bytes}) {
    SCOPED_TRACE("max " + std::to_string(max));
    std::mt19937 rng(static_cast<unsigned>(max));
    const std::string stream = mixed_stream(std::min<std::size_t>(max, 300), rng);
    const auto whole = split(stream, max, [&] { return stream.size(); });
    const auto bytewise = split(stream, max, [] { return std::size_t{1}; });
    const auto random = split(stream, max, [&] { return std::size_t{1} + rng() % 97; });
    EXPECT_EQ(bytewise, whole);
    EXPECT_EQ(random, whole);
    EXPECT_EQ(whole.second, std::string("unfinished").substr(0, max));
    for (const auto& [text, cut] : whole.first) {
      EXPECT_LE(text.size(), max);
      EXPECT_EQ(text.find('\n'), std::string::npos);
    }
  }
}

TEST(LineSplitter, ChunksMatchAReferenceSplit) {
  std::mt19937 rng(99);
  const std::size_t max = 16;
  const std::string stream = mixed_stream(max, rng);
  std::vector<std::pair<std::string, bool>> expected;  // the simple, unbounded definition
  std::size_t start = 0;
  for (std::size_t nl = stream.find('\n'); nl != std::string::npos;
       start = nl + 1, nl = stream.find('\n', start)) {
    const std::string line = stream.substr(start, nl - start);
    expected.emplace_back(line.substr(0, max), line.size() > max);
  }
  const auto got = split(stream, max, [&] { return std::size_t{1} + rng() % 40; });
  EXPECT_EQ(got.first, expected);
}

}  // namespace
