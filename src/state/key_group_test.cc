#include "state/key_group.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace brook::state {
namespace {

// The UTF-16LE bytes of an ASCII string, as Java hashes a char[].
std::string utf16le(std::string_view ascii) {
  std::string bytes;
  for (char c : ascii) {
    bytes += c;
    bytes += '\0';
  }
  return bytes;
}

// Published MurmurHash3_x64_128 digests with seed 0; h1 is the first 64-bit half. The values
// are those asserted by the test suites of Guava (Murmur3Hash128Test) and Apache DataSketches
// (MurmurHash3Test, taken from the reference C++ implementation).
TEST(HashKeyBytesTest, EmptyInputHashesToZero) {
  EXPECT_EQ(hashKeyBytes(""), 0u);
}

TEST(HashKeyBytesTest, MatchesGuavaTestVectors) {
  EXPECT_EQ(hashKeyBytes("hell"), 0x629942693e10f867ULL);
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy dog"), 0xe34bbc7bbc071b6cULL);
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy cog"), 0x658ca970ff85269aULL);
}

TEST(HashKeyBytesTest, MatchesDataSketchesTestVectorsForEveryTailLength) {
  // 43 bytes: two blocks and an 11-byte tail.
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy eog"), 0x362108102c62d1c9ULL);
  // 49 bytes: three blocks and a 1-byte tail.
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy dogdogdog"),
            0x9c8205300e612fc4ULL);
  // 40 bytes: two blocks and an 8-byte tail.
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy1"), 0xe3301a827e5cdfe3ULL);
  // 32 bytes: two blocks, no tail.
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over t"), 0xdf6af91bb29bdacfULL);
  // 80 bytes: five blocks, no tail.
  EXPECT_EQ(hashKeyBytes(utf16le("The quick brown fox jumps over the lazy ")),
            0x51b15e9d0887f9f1ULL);
  // 90 bytes: five blocks and a 10-byte tail.
  EXPECT_EQ(hashKeyBytes(utf16le("The quick brown fox jumps over the lazy dog..")),
            0xca77b498ea9ed953ULL);
  // 48 bytes with 0xff and 0x00 bytes: the tail bytes must be read unsigned.
  std::string withHighBytes = "The quick brown fox jumps over the lazy dog";
  withHighBytes += std::string(
      "\xff"
      "dog\0",
      5);
  ASSERT_EQ(withHighBytes.size(), 48u);
  EXPECT_EQ(hashKeyBytes(withHighBytes), 0xe88abda785929c9eULL);
}

TEST(HashKeyBytesTest, IsTheLittleEndianFirstHalfOfTheHexDigest) {
  // The 128-bit digest as a byte string (h1 then h2, each little-endian), as printed by
  // Python's mmh3.hash_bytes(...).hex().
  const std::string digest = "6c1b07bc7bbc4be347939ac4a93c437a";
  uint64_t h1 = 0;
  for (int i = 7; i >= 0; --i) {
    h1 = (h1 << 8) | std::stoull(digest.substr(2 * i, 2), nullptr, 16);
  }
  EXPECT_EQ(h1, 0xe34bbc7bbc071b6cULL);
  EXPECT_EQ(hashKeyBytes("The quick brown fox jumps over the lazy dog"), h1);
}

TEST(HashKeyBytesTest, HashesBytesNotCStrings) {
  std::string withNul("a\0b", 3);
  EXPECT_NE(hashKeyBytes(withNul), hashKeyBytes("a"));
  EXPECT_NE(hashKeyBytes(std::string_view("\0", 1)), hashKeyBytes(""));
}

TEST(KeyGroupTest, KeyGroupIsHashModuloMaxParallelism) {
  const uint64_t fox = 0xe34bbc7bbc071b6cULL;
  EXPECT_EQ(keyGroupForHash(fox, 128), 0x6c);
  EXPECT_EQ(keyGroupForHash(fox, 1), 0);
  EXPECT_EQ(keyGroupForHash(~uint64_t{0}, 1000), static_cast<int>(~uint64_t{0} % 1000));
  EXPECT_EQ(keyGroupFor("The quick brown fox jumps over the lazy dog", 128), 0x6c);
  EXPECT_EQ(keyGroupFor("", 7), 0);
}

TEST(KeyGroupTest, MatchesFlinkRangesForMaxParallelism128AndParallelism3) {
  EXPECT_EQ(keyGroupRangeFor(128, 3, 0), (KeyGroupRange{0, 42}));
  EXPECT_EQ(keyGroupRangeFor(128, 3, 1), (KeyGroupRange{43, 85}));
  EXPECT_EQ(keyGroupRangeFor(128, 3, 2), (KeyGroupRange{86, 127}));
  EXPECT_EQ(operatorIndexForKeyGroup(128, 3, 42), 0);
  EXPECT_EQ(operatorIndexForKeyGroup(128, 3, 43), 1);
  EXPECT_EQ(operatorIndexForKeyGroup(128, 3, 85), 1);
  EXPECT_EQ(operatorIndexForKeyGroup(128, 3, 86), 2);
  EXPECT_EQ(operatorIndexForKeyGroup(128, 3, 127), 2);
}

TEST(KeyGroupTest, SingleSubtaskOwnsEveryKeyGroup) {
  EXPECT_EQ(keyGroupRangeFor(128, 1, 0), (KeyGroupRange{0, 127}));
  EXPECT_EQ(keyGroupRangeFor(1, 1, 0), (KeyGroupRange{0, 0}));
  EXPECT_EQ(keyGroupRangeFor(128, 128, 5), (KeyGroupRange{5, 5}));
}

TEST(KeyGroupTest, RangesPartitionKeyGroupsConsistentlyWithOperatorIndex) {
  for (int maxParallelism : {1, 7, 128, 1000}) {
    for (int parallelism = 1; parallelism <= std::min(maxParallelism, 40); ++parallelism) {
      SCOPED_TRACE("maxParallelism " + std::to_string(maxParallelism) + ", parallelism " +
                   std::to_string(parallelism));
      std::vector<int> owner(maxParallelism, -1);
      int next = 0;
      int smallest = maxParallelism;
      int largest = 0;
      for (int index = 0; index < parallelism; ++index) {
        KeyGroupRange range = keyGroupRangeFor(maxParallelism, parallelism, index);
        // Contiguous and disjoint: each range starts where the previous one ended.
        ASSERT_EQ(range.start, next) << "subtask " << index;
        ASSERT_GE(range.size(), 1) << "subtask " << index;
        for (int g = range.start; g <= range.end; ++g) {
          ASSERT_TRUE(range.contains(g));
          owner[g] = index;
        }
        EXPECT_FALSE(range.contains(range.start - 1));
        EXPECT_FALSE(range.contains(range.end + 1));
        next = range.end + 1;
        smallest = std::min(smallest, range.size());
        largest = std::max(largest, range.size());
      }
      // Together they cover [0, maxParallelism), as evenly as possible.
      EXPECT_EQ(next, maxParallelism);
      EXPECT_LE(largest - smallest, 1);
      for (int g = 0; g < maxParallelism; ++g) {
        ASSERT_EQ(operatorIndexForKeyGroup(maxParallelism, parallelism, g), owner[g])
            << "key group " << g;
      }
    }
  }
}

TEST(KeyGroupRangeTest, SizeAndContains) {
  KeyGroupRange empty;
  EXPECT_EQ(empty.size(), 0);
  EXPECT_FALSE(empty.contains(0));
  KeyGroupRange r{3, 5};
  EXPECT_EQ(r.size(), 3);
  EXPECT_TRUE(r.contains(3));
  EXPECT_TRUE(r.contains(5));
  EXPECT_FALSE(r.contains(2));
  EXPECT_FALSE(r.contains(6));
}

}  // namespace
}  // namespace brook::state
