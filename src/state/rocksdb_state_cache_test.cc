#include "state/rocksdb_state_cache.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace brook::state {
namespace {

std::vector<std::pair<std::string, std::string>> dirtyEntries(const RocksDbStateCache& cache,
                                                              bool oldOnly) {
  std::vector<std::pair<std::string, std::string>> dirty;
  cache.forEachDirty(oldOnly, [&](std::string_view rowKey, std::string_view userKey,
                                  const CachedValue&) { dirty.emplace_back(rowKey, userKey); });
  std::sort(dirty.begin(), dirty.end());
  return dirty;
}

// Up to 24 bytes in place, more on the heap, whichever way they come.
TEST(RocksDbStateCacheTest, CachedBytesHoldWhatIsWrittenAcrossTheInlineLimit) {
  std::string model;
  CachedBytes bytes;
  EXPECT_TRUE(bytes.empty());
  for (int round = 0; round < 40; ++round) {
    const std::string piece(static_cast<size_t>(round % 7) + 1,
                            static_cast<char>('a' + round % 26));
    if (round % 3 == 0) {
      bytes.prepend(piece);
      model.insert(0, piece);
    } else {
      bytes.append(piece);
      model.append(piece);
    }
    ASSERT_EQ(bytes.view(), model) << round;
    EXPECT_EQ(bytes.heapBytes() == 0, model.size() <= 24) << round;
    CachedBytes copy(bytes);
    EXPECT_EQ(copy.view(), model);
    CachedBytes moved(std::move(copy));
    EXPECT_EQ(moved.view(), model);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    moved = bytes;
    EXPECT_EQ(moved.view(), model);
  }
  bytes.assign("short");
  EXPECT_EQ(bytes.view(), "short");
  EXPECT_GT(bytes.heapBytes(), 0u);  // the heap memory stays for the next value
  bytes.clear();
  EXPECT_TRUE(bytes.empty());
  CachedBytes small;
  small = std::string_view("0123456789abcdef");
  EXPECT_EQ(small.heapBytes(), 0u);
  small.prepend("xyz");
  EXPECT_EQ(small.view(), "xyz0123456789abcdef");
}

TEST(RocksDbStateCacheTest, CountsTheBytesOfItsRowsAndForgetsThemWhenDropped) {
  RocksDbStateCache cache(1 << 20);
  ASSERT_TRUE(cache.enabled());
  // A key of up to 31 bytes lives in the row's slot; a longer one counts its bytes too.
  CachedRow& row = cache.insert("row-1");
  EXPECT_EQ(cache.bytes(), RocksDbStateCache::kRowOverhead);
  cache.charge(row, 100);
  EXPECT_EQ(row.bytes, RocksDbStateCache::kRowOverhead + 100);
  EXPECT_EQ(cache.bytes(), row.bytes);
  const std::string longKey(40, 'k');
  cache.insert(longKey);
  EXPECT_EQ(cache.bytes(), 2 * RocksDbStateCache::kRowOverhead + 100 + 40);
  cache.insert("row-2");
  cache.erase("row-1");
  cache.erase(longKey);
  EXPECT_EQ(cache.bytes(), RocksDbStateCache::kRowOverhead);
  EXPECT_EQ(cache.find("row-1"), nullptr);
  EXPECT_EQ(cache.find(longKey), nullptr);
  EXPECT_NE(cache.find("row-2"), nullptr);
  // Rows move between the generations under keys of either kind.
  cache.insert(longKey).value.bytes = "long";
  cache.rotate();
  ASSERT_NE(cache.find(longKey), nullptr);
  EXPECT_EQ(cache.find(longKey)->value.bytes, "long");
  EXPECT_NE(cache.find("row-2"), nullptr);
  cache.clear();
  EXPECT_EQ(cache.bytes(), 0);
  EXPECT_EQ(cache.find("row-2"), nullptr);
  EXPECT_FALSE(RocksDbStateCache(0).enabled());
}

// Rows used since the last rotation survive the next one; the others go with it.
TEST(RocksDbStateCacheTest, ARotationDropsTheRowsNotUsedSinceThePreviousOne) {
  RocksDbStateCache cache(1 << 20);
  cache.insert("hot").value.dirty = true;
  cache.insert("cold").value.dirty = true;
  EXPECT_FALSE(cache.full());
  cache.rotate();
  // Both rows are old now: their dirty entries are what an eviction writes back.
  EXPECT_EQ(dirtyEntries(cache, /*oldOnly=*/true),
            (std::vector<std::pair<std::string, std::string>>{{"cold", ""}, {"hot", ""}}));
  CachedRow* hot = cache.find("hot");  // back to the young generation
  ASSERT_NE(hot, nullptr);
  EXPECT_TRUE(hot->value.dirty);
  CachedRow& map = cache.insert("map");
  map.map = std::make_unique<CachedMapEntries>();
  map.map->entries["a"].dirty = true;
  map.map->entries["b"];
  EXPECT_EQ(dirtyEntries(cache, /*oldOnly=*/true),
            (std::vector<std::pair<std::string, std::string>>{{"cold", ""}}));
  EXPECT_EQ(
      dirtyEntries(cache, /*oldOnly=*/false),
      (std::vector<std::pair<std::string, std::string>>{{"cold", ""}, {"hot", ""}, {"map", "a"}}));
  cache.rotate();
  EXPECT_EQ(cache.find("cold"), nullptr);
  EXPECT_NE(cache.find("hot"), nullptr);
  EXPECT_NE(cache.find("map"), nullptr);
  cache.markClean();
  EXPECT_TRUE(dirtyEntries(cache, /*oldOnly=*/false).empty());
}

// A prefetch is a hint: it neither moves a row between the generations nor changes what the
// cache counts, whether the row is young, old or absent.
TEST(RocksDbStateCacheTest, APrefetchMovesAndChangesNothing) {
  RocksDbStateCache cache(1 << 20);
  cache.prefetch("absent");  // an empty cache
  cache.insert("old").value.dirty = true;
  cache.rotate();
  cache.insert("young").value.dirty = true;
  const int64_t bytes = cache.bytes();
  for (const char* rowKey : {"old", "young", "absent", ""}) {
    cache.prefetch(rowKey);
  }
  EXPECT_EQ(cache.bytes(), bytes);
  // "old" is still in the old generation: a rotation now drops it.
  EXPECT_EQ(dirtyEntries(cache, /*oldOnly=*/true),
            (std::vector<std::pair<std::string, std::string>>{{"old", ""}}));
  cache.rotate();
  EXPECT_EQ(cache.find("old"), nullptr);
  EXPECT_NE(cache.find("young"), nullptr);
}

TEST(RocksDbStateCacheTest, IsFullWhenTheYoungGenerationHoldsThreeQuartersOfTheCapacity) {
  const int64_t capacity = 64 << 10;
  const int64_t rowBytes = 100 + 16 + RocksDbStateCache::kRowOverhead;
  RocksDbStateCache cache(capacity);
  int rows = 0;
  while (!cache.full()) {
    cache.charge(cache.insert("row-" + std::to_string(rows++)), 100);
  }
  EXPECT_GT(cache.bytes(), capacity / 4 * 3);
  EXPECT_LE(cache.bytes(), capacity / 4 * 3 + rowBytes);
  cache.rotate();
  EXPECT_FALSE(cache.full());
  // A second generation fills up beside the first until both hold the capacity.
  while (!cache.full()) {
    cache.charge(cache.insert("next-" + std::to_string(rows++)), 100);
  }
  EXPECT_GT(cache.bytes(), capacity);
  EXPECT_LE(cache.bytes(), capacity + rowBytes);
}

// The rows used since the last rotation stay cached across rotations while they fit in three
// quarters of the capacity, although new rows keep coming: what the rotations drop is the rows
// that were not used.
TEST(RocksDbStateCacheTest, RowsInUseSurviveRotationsWhileTheyFitThreeQuartersOfTheCapacity) {
  const int64_t capacity = 64 << 10;
  const int64_t rowBytes = 100 + 16 + RocksDbStateCache::kRowOverhead;
  const int live = static_cast<int>(capacity * 2 / 3 / rowBytes);  // two thirds of the capacity
  RocksDbStateCache cache(capacity);
  int rotations = 0;
  const auto use = [&](const std::string& key) {
    if (cache.find(key) == nullptr)
      cache.charge(cache.insert(key), 100);
    EXPECT_LE(cache.bytes(), capacity + rowBytes);
    if (cache.full()) {
      cache.rotate();
      ++rotations;
    }
  };
  int misses = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < live; ++i) {
      const std::string key = "live-" + std::to_string(i);
      if (round > 0 && cache.find(key) == nullptr)
        ++misses;
      use(key);
    }
    // Short-lived rows, as closed windows leave behind.
    for (int i = 0; i < 20; ++i)
      use("dead-" + std::to_string(round) + "-" + std::to_string(i));
  }
  EXPECT_GE(rotations, 2);
  EXPECT_EQ(misses, 0);
}

}  // namespace
}  // namespace brook::state
