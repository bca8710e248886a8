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

// MurmurHash3_x64_128's first half as the reference composes it, byte by byte.
uint64_t referenceMurmur(std::string_view bytes) {
  auto rotl = [](uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
  };
  auto fmix = [](uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  };
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t len = bytes.size();
  const uint64_t c1 = 0x87c37b91114253d5ULL;
  const uint64_t c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  auto word = [&](size_t at, size_t n) {
    uint64_t k = 0;
    for (size_t i = 0; i < n; ++i)
      k |= uint64_t{data[at + i]} << (8 * i);
    return k;
  };
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    uint64_t k1 = word(i, 8) * c1;
    k1 = rotl(k1, 31) * c2;
    h1 ^= k1;
    h1 = rotl(h1, 27) + h2;
    h1 = h1 * 5 + 0x52dce729;
    uint64_t k2 = word(i + 8, 8) * c2;
    k2 = rotl(k2, 33) * c1;
    h2 ^= k2;
    h2 = rotl(h2, 31) + h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const size_t rest = len - i;
  if (rest > 8) {
    uint64_t k2 = word(i + 8, rest - 8) * c2;
    h2 ^= rotl(k2, 33) * c1;
  }
  if (rest > 0) {
    uint64_t k1 = word(i, std::min<size_t>(rest, 8)) * c1;
    h1 ^= rotl(k1, 31) * c2;
  }
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = fmix(h1);
  h2 = fmix(h2);
  return h1 + h2;
}

// The word-loading implementation gives the reference's hash for every length (every tail
// length several times over), bytes of all values, and keys at any alignment.
TEST(HashKeyBytesTest, MatchesTheByteWiseReferenceForEveryLength) {
  std::string buffer;
  uint64_t state = 0x1234567;
  for (int i = 0; i < 80; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    buffer.push_back(static_cast<char>(state >> 56));
  }
  for (size_t offset : {0, 1, 3, 7}) {
    for (size_t len = 0; len + offset <= buffer.size(); ++len) {
      std::string_view bytes(buffer.data() + offset, len);
      ASSERT_EQ(hashKeyBytes(bytes), referenceMurmur(bytes))
          << "length " << len << " at offset " << offset;
    }
  }
}

TEST(KeyGroupTest, KeyGroupIsHashModuloMaxParallelism) {
  const uint64_t fox = 0xe34bbc7bbc071b6cULL;
  EXPECT_EQ(keyGroupForHash(fox, 128), 0x6c);
  EXPECT_EQ(keyGroupForHash(fox, 1), 0);
  EXPECT_EQ(keyGroupForHash(~uint64_t{0}, 1000), static_cast<int>(~uint64_t{0} % 1000));
  EXPECT_EQ(keyGroupFor("The quick brown fox jumps over the lazy dog", 128), 0x6c);
  EXPECT_EQ(keyGroupFor("", 7), 0);
  // Powers of two take a mask instead of a division: the same remainders.
  for (uint64_t hash : {fox, ~uint64_t{0}, uint64_t{0x8000000000000001}, uint64_t{12345}}) {
    for (int maxParallelism : {1, 2, 128, 4096, 32768}) {
      EXPECT_EQ(keyGroupForHash(hash, maxParallelism),
                static_cast<int>(hash % static_cast<uint64_t>(maxParallelism)));
    }
  }
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
