#include "state/internal/crc32c.h"

#include <string>

#include <gtest/gtest.h>

#include "state/internal/byte_reader.h"

namespace brook::state::internal {
namespace {

TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  // RFC 3720, appendix B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
  }
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, ExtendingEqualsComputingAtOnce) {
  std::string bytes;
  for (int i = 0; i < 100; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
  }
  const uint32_t whole = crc32c(bytes);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    std::string_view view(bytes);
    EXPECT_EQ(crc32cExtend(crc32c(view.substr(0, split)), view.substr(split)), whole) << split;
  }
}

TEST(Crc32cTest, AgreesWithThePortableComputationAtEveryLengthAndAlignment) {
  std::string bytes;
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    x = x * 1103515245 + 12345;
    bytes.push_back(static_cast<char>(x >> 16));
  }
  const std::string_view view(bytes);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t length = 0; start + length <= view.size(); length += (length < 40 ? 1 : 13)) {
      const std::string_view part = view.substr(start, length);
      EXPECT_EQ(crc32c(part), crc32cExtendPortable(0, part)) << start << " " << length;
      EXPECT_EQ(crc32cExtend(0x1234567u, part), crc32cExtendPortable(0x1234567u, part))
          << start << " " << length;
    }
  }
  EXPECT_EQ(crc32cExtendPortable(0, "123456789"), 0xE3069283u);
}

TEST(ByteReaderTest, RoundTripsVarintsAndRejectsMalformedOnes) {
  std::string bytes;
  const uint64_t values[] = {0, 1, 127, 128, 300, uint64_t{1} << 35, ~uint64_t{0}};
  for (uint64_t v : values) {
    appendVarint64(&bytes, v);
  }
  ByteReader r(bytes);
  for (uint64_t v : values) {
    uint64_t read = 0;
    ASSERT_TRUE(r.readVarint64(&read));
    EXPECT_EQ(read, v);
  }
  EXPECT_TRUE(r.empty());

  uint64_t v = 0;
  ByteReader truncated(std::string_view("\x80\x80", 2));
  EXPECT_FALSE(truncated.readVarint64(&v));
  const std::string overlongBytes(11, '\x80');
  ByteReader overlong(overlongBytes);
  EXPECT_FALSE(overlong.readVarint64(&v));
  const std::string overflowingBytes = std::string(9, '\xFF') + "\x02";
  ByteReader overflowing(overflowingBytes);
  EXPECT_FALSE(overflowing.readVarint64(&v));
}

TEST(ByteReaderTest, LengthPrefixedBytesNeverReadPastTheEnd) {
  std::string bytes;
  appendLengthPrefixed(&bytes, "hello");
  std::string_view out;
  ByteReader ok(bytes);
  ASSERT_TRUE(ok.readLengthPrefixed(&out));
  EXPECT_EQ(out, "hello");
  for (size_t n = 0; n < bytes.size(); ++n) {
    ByteReader r(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(r.readLengthPrefixed(&out)) << n;
  }
  std::string huge;
  appendVarint64(&huge, ~uint64_t{0});
  ByteReader r(huge);
  EXPECT_FALSE(r.readLengthPrefixed(&out));
}

}  // namespace
}  // namespace brook::state::internal
