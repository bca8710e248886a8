// The channel state file of unaligned checkpoints: round trip and refusal of damaged files.

#include "checkpoint/channel_state.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brook::checkpoint {
namespace {

using ::testing::HasSubstr;

ChannelStateSnapshot sample() {
  ChannelStateSnapshot s;
  s.inputs.push_back({0, 3,
                      std::string("\x01\x02\x00\x00\x00"
                                  "ab",
                                  7)});
  s.inputs.push_back({1, 0, std::string(100000, 'x')});
  s.outputs.push_back({2, 7, std::string("\x05", 1)});
  return s;
}

TEST(ChannelStateTest, RoundTrips) {
  const ChannelStateSnapshot s = sample();
  absl::StatusOr<ChannelStateSnapshot> decoded = decodeChannelState(encodeChannelState(s), "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, s);

  absl::StatusOr<ChannelStateSnapshot> empty =
      decodeChannelState(encodeChannelState(ChannelStateSnapshot{}), "f");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

TEST(ChannelStateTest, EveryTruncationIsRefusedWithTheFileName) {
  const std::string bytes = encodeChannelState(sample());
  // Every proper prefix: the lengths of the header, counts and channel fields never all line
  // up with a shorter valid file.
  for (size_t n = 0; n < bytes.size(); n += (n < 64 ? 1 : 997)) {
    absl::StatusOr<ChannelStateSnapshot> decoded = decodeChannelState(bytes.substr(0, n), "x.ch");
    ASSERT_FALSE(decoded.ok()) << n;
    EXPECT_THAT(decoded.status().message(), HasSubstr("x.ch")) << n;
  }
}

TEST(ChannelStateTest, BadMagicVersionAndTrailingBytesAreRefused) {
  std::string bytes = encodeChannelState(sample());
  std::string badMagic = bytes;
  badMagic[0] = 'X';
  EXPECT_THAT(decodeChannelState(badMagic, "f").status().message(), HasSubstr("bad magic"));
  std::string badVersion = bytes;
  badVersion[4] = 9;
  EXPECT_THAT(decodeChannelState(badVersion, "f").status().message(),
              HasSubstr("format version 9"));
  EXPECT_THAT(decodeChannelState(bytes + "z", "f").status().message(), HasSubstr("trailing"));
  // A length far beyond the file.
  std::string hugeLength = encodeChannelState(ChannelStateSnapshot{{{0, 0, "ab"}}, {}});
  hugeLength[4 + 4 + 4 + 4 + 4 + 7] = '\x7f';
  EXPECT_THAT(decodeChannelState(hugeLength, "f").status().message(), HasSubstr("truncated"));
}

}  // namespace
}  // namespace brook::checkpoint
