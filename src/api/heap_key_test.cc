#include <string>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <gtest/gtest.h>

#include <brook/internal/heap_key.h>
#include <brook/internal/heap_state_tables.h>

namespace brook::internal {
namespace {

// Keys of every length around the inline capacity keep their bytes through copies, moves and
// assignments, inline and on the heap alike.
TEST(HeapKeyTest, HoldsEveryLengthThroughCopiesAndMoves) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{30}, size_t{31}, size_t{32},
                   size_t{33}, size_t{100}}) {
    SCOPED_TRACE(n);
    std::string bytes;
    for (size_t i = 0; i < n; ++i)
      bytes.push_back(static_cast<char>(i * 37 + n));  // also '\0' and bytes >= 0x80
    HeapKey key(bytes);
    EXPECT_EQ(key.view(), bytes);
    EXPECT_EQ(key.size(), n);
    EXPECT_EQ(key.empty(), n == 0);
    HeapKey copy(key);
    EXPECT_EQ(copy.view(), bytes);
    HeapKey moved(std::move(copy));
    EXPECT_EQ(moved.view(), bytes);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from key is empty
    HeapKey assigned(std::string(40, 'x'));
    assigned = key;
    EXPECT_EQ(assigned.view(), bytes);
    HeapKey shortKey("ab");
    shortKey = std::move(assigned);
    EXPECT_EQ(shortKey.view(), bytes);
    shortKey = shortKey;  // NOLINT: self-assignment keeps the bytes
    EXPECT_EQ(shortKey.view(), bytes);
    EXPECT_EQ(HeapKey(bytes), key);
    EXPECT_TRUE(key == std::string_view(bytes));
    EXPECT_FALSE(HeapKey(bytes + "z") == key);
    EXPECT_TRUE(key < HeapKey(bytes + "z"));  // byte order, as std::string compares
    EXPECT_FALSE(HeapKey(bytes + "z") < key);
  }
}

// A map keyed by HeapKey finds its keys by string view, as the heap tables look them up.
TEST(HeapKeyTest, AMapFindsItsKeysByView) {
  absl::flat_hash_map<HeapKey, int, HeapKeyHash, HeapKeyEq> map;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i)
    keys.push_back(std::string(static_cast<size_t>(i % 50), 'k') + std::to_string(i));
  for (int i = 0; i < 1000; ++i)
    map.try_emplace(HeapKey(keys[static_cast<size_t>(i)]), i);  // rehashes move the keys
  ASSERT_EQ(map.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const std::string& k = keys[static_cast<size_t>(i)];
    auto it = map.find(absl::string_view(k.data(), k.size()));
    ASSERT_NE(it, map.end()) << k;
    EXPECT_EQ(it->second, i);
    EXPECT_EQ(it->first.view(), k);
  }
  EXPECT_EQ(map.find(absl::string_view("absent")), map.end());
}

// A table looks keys up with a hash it combines from the current key's hash (murmurKeyHash of
// the serialized key, which the backend computed for its key group) and the namespace's; the
// map rehashes stored keys from their bytes. Both must agree, for keys whose length prefix
// takes one varint byte or more, with and without a namespace.
TEST(HeapKeyHashTest, TheHashOfAKeyIsTheCombinationOfItsPartsHashes) {
  for (size_t keyBytes :
       {size_t{0}, size_t{8}, size_t{16}, size_t{127}, size_t{128}, size_t{300}}) {
    for (std::string ns : {std::string(), std::string(16, 'w'), std::string(40, 'n')}) {
      SCOPED_TRACE(std::to_string(keyBytes) + " key bytes, " + std::to_string(ns.size()) +
                   " namespace bytes");
      std::string key;
      for (size_t i = 0; i < keyBytes; ++i)
        key.push_back(static_cast<char>(i * 7));
      DataOutput prefix;
      prefix.writeVarUint(keyBytes);
      prefix.writeBytes(key.data(), key.size());
      const std::string composite = std::string(prefix.view()) + ns;
      const size_t combined =
          combineHeapKeyHashes(murmurKeyHash(key.data(), key.size()),
                               heapKeyPartHash(absl::string_view(ns.data(), ns.size())));
      EXPECT_EQ(HeapKeyHash{}(absl::string_view(composite.data(), composite.size())), combined);
      EXPECT_EQ(HeapKeyHash{}(HeapKey(composite)), combined);
    }
  }
  // Unequal parts hash apart (a key's last byte is not taken for the namespace's first).
  const auto hashOf = [](std::string_view composite) {
    return HeapKeyHash{}(absl::string_view(composite.data(), composite.size()));
  };
  EXPECT_NE(hashOf(std::string(1, '\x02') + "ab" + "c"),
            hashOf(std::string(1, '\x01') + "a" + "bc"));
}

}  // namespace
}  // namespace brook::internal
