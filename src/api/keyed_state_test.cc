// The typed keyed state objects over the heap tables, with a minimal backend whose key groups
// come from std::hash. (The runtime's backends, with both heap and RocksDB storage, are tested in
// src/state.)

#include <functional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include <brook/internal/timer_service.h>
#include <brook/state.h>

namespace brook {
namespace {

class TestBackend final : public internal::KeyedStateBackend {
 public:
  TestBackend() : KeyedStateBackend("Test Operator (1/1)", 16, 0, 15, nullptr) {}
  void setCurrentKey(std::string_view key) override {
    setKey(key, static_cast<int>(std::hash<std::string_view>{}(key) % 16));
  }
  int64_t currentTimeMillis() const override { return now; }
  void setKeyString(const std::string& k) {
    DataOutput out;
    brook::serialize(k, out);
    setCurrentKey(out.view());
  }
  int64_t now = 1000;
};

TEST(KeyedStateTest, ValueStatePerKey) {
  TestBackend backend;
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  ValueState<int64_t>& count = ctx.getState(ValueStateDescriptor<int64_t>("count"));
  backend.setKeyString("a");
  EXPECT_FALSE(count.value().has_value());
  count.update(5);
  backend.setKeyString("b");
  EXPECT_FALSE(count.value().has_value());
  count.update(7);
  backend.setKeyString("a");
  EXPECT_EQ(count.value(), 5);
  count.clear();
  EXPECT_FALSE(count.value().has_value());
  backend.setKeyString("b");
  EXPECT_EQ(count.value(), 7);
  EXPECT_EQ(&count, &ctx.getState(ValueStateDescriptor<int64_t>("count")));
  EXPECT_THROW(ctx.getListState(ListStateDescriptor<int64_t>("count")), StateException);
}

TEST(KeyedStateTest, TtlValueExpires) {
  TestBackend backend;
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  ValueStateDescriptor<std::string> d("s");
  d.enableTimeToLive(StateTtlConfig::of(std::chrono::milliseconds(100)));
  auto& s = ctx.getState(d);
  backend.setKeyString("k");
  s.update("x");
  backend.now += 99;
  EXPECT_EQ(s.value(), "x");
  backend.now += 1;
  EXPECT_FALSE(s.value().has_value());
}

/// Counts what a heap table writes into a snapshot.
class CountingSink final : public internal::KeyedStateSink {
 public:
  void writeValue(int, std::string_view, std::string_view, std::string_view) override {
    ++values;
  }
  void writeList(int, std::string_view, std::string_view,
                 std::span<const std::string> elements) override {
    listElements += elements.size();
  }
  void writeMapEntry(int, std::string_view, std::string_view, std::string_view,
                     std::string_view) override {
    ++mapEntries;
  }
  size_t values = 0;
  size_t listElements = 0;
  size_t mapEntries = 0;
};

TEST(KeyedStateTest, SnapshotsLeaveOutExpiredEntries) {
  TestBackend backend;
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  auto ttl = StateTtlConfig::of(std::chrono::milliseconds(100));
  ValueStateDescriptor<int> vd("v");
  vd.enableTimeToLive(ttl);
  ListStateDescriptor<int> ld("l");
  ld.enableTimeToLive(ttl);
  MapStateDescriptor<int, int> md("m");
  md.enableTimeToLive(ttl);
  auto& v = ctx.getState(vd);
  auto& l = ctx.getListState(ld);
  auto& m = ctx.getMapState(md);
  backend.setKeyString("old");
  v.update(1);
  l.add(1);
  m.put(1, 1);
  backend.now += 60;
  backend.setKeyString("new");
  v.update(2);
  l.add(2);
  l.add(3);
  m.put(2, 2);
  backend.setKeyString("old");
  l.add(4);  // one live element in an otherwise expired list
  backend.now += 50;
  CountingSink sink;
  for (const char* name : {"v", "l", "m"})
    backend.findTable(name)->snapshot(sink);
  EXPECT_EQ(sink.values, 1u);
  EXPECT_EQ(sink.listElements, 3u);
  EXPECT_EQ(sink.mapEntries, 1u);
}

// The timer queue against an ordered set of (timestamp, key group, key, namespace): random adds
// (many of them duplicates), deletions and polls must leave the same timers and fire them in the
// same order.
/// Runs random adds, removes and polls on a TimerQueue and on an ordered set side by side;
/// `removeShare` of ten operations are removes.
void checkTimerQueueAgainstAnOrderedSet(const std::vector<std::string>& keys, unsigned removeShare,
                                        uint64_t seed) {
  TestBackend backend;
  auto& queue = backend.registerInternalTable<internal::TimerQueue>("_timers");
  using Entry = std::tuple<int64_t, int, std::string, std::string>;
  std::set<Entry> oracle;
  std::mt19937_64 random(seed);
  const std::vector<std::string> namespaces = {"", "w1", "w2"};
  int64_t watermark = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::string& key = keys[random() % keys.size()];
    const std::string& ns = namespaces[random() % namespaces.size()];
    const int64_t time = watermark + static_cast<int64_t>(random() % 50);
    backend.setKeyString(key);
    const Entry entry{time, backend.currentKeyGroup(), std::string(backend.currentKey()), ns};
    const unsigned op = random() % 10;
    if (op < 8 - removeShare) {
      EXPECT_EQ(queue.add(time, ns), oracle.insert(entry).second) << "step " << step;
      if (random() % 4 == 0) {  // at once again, as a window's trigger and cleanup timer
        EXPECT_FALSE(queue.add(time, ns)) << "step " << step;
      }
    } else if (op < 8) {
      queue.remove(time, ns);
      oracle.erase(entry);
      if (random() % 4 == 0) {  // a timer removed is added anew
        EXPECT_TRUE(queue.add(time, ns) && oracle.insert(entry).second) << "step " << step;
      }
    } else {
      watermark += static_cast<int64_t>(random() % 10);
      while (auto timer = queue.pollDue(watermark)) {
        ASSERT_FALSE(oracle.empty()) << "step " << step;
        const Entry expected = *oracle.begin();
        oracle.erase(oracle.begin());
        EXPECT_EQ(Entry(timer->timestamp, timer->keyGroup, timer->key, timer->stateNamespace),
                  expected)
            << "step " << step;
      }
      EXPECT_TRUE(oracle.empty() || std::get<0>(*oracle.begin()) > watermark);
    }
    ASSERT_EQ(queue.size(), oracle.size()) << "step " << step;
    if (!oracle.empty()) {
      EXPECT_EQ(queue.nextTimestamp(), std::get<0>(*oracle.begin()));
    }
  }
}

TEST(TimerQueueTest, MatchesAnOrderedSetUnderRandomOperations) {
  checkTimerQueueAgainstAnOrderedSet({"a", "b", "c", "d", "e", "f", "g"}, 2, 42);
}

TEST(TimerQueueTest, OrdersKeysThatShareTheirFirstBytes) {
  // Serialized keys of one length that differ only after the bytes the heap compares first;
  // 200 of them share 128 key groups, so many pairs tie on both and fall back to the keys.
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i)
    keys.push_back("common-prefix-" + std::to_string(1000 + i));
  checkTimerQueueAgainstAnOrderedSet(keys, 2, 7);
}

TEST(TimerQueueTest, StaysExactWhenMostOperationsAreRemoves) {
  // Deleted timers wait in the heap until they reach its front or the heap is rebuilt.
  checkTimerQueueAgainstAnOrderedSet({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, 5, 3);
}

/// Collects the timers a TimerQueue snapshot writes, as (timestamp, key group, key, namespace).
class TimerCollectingSink final : public internal::KeyedStateSink {
 public:
  using Entry = std::tuple<int64_t, int, std::string, std::string>;
  void writeValue(int, std::string_view, std::string_view, std::string_view) override {
    ADD_FAILURE() << "a timer written as a value";
  }
  void writeList(int, std::string_view, std::string_view, std::span<const std::string>) override {
    ADD_FAILURE() << "a timer written as a list";
  }
  void writeMapEntry(int keyGroup,
                     std::string_view key,
                     std::string_view ns,
                     std::string_view userKey,
                     std::string_view userValue) override {
    EXPECT_EQ(userKey.size(), 8u);
    EXPECT_TRUE(userValue.empty());
    entries.insert(Entry{internal::TimerQueue::decodeTimestamp(userKey.data()), keyGroup,
                         std::string(key), std::string(ns)});
  }
  std::set<Entry> entries;
};

// Snapshots share the queue's timers: whatever the queue does after a snapshot was taken (adds,
// deletions, polls, rebuilds), the snapshot writes the timers of the moment it was taken, also
// while other snapshots are alive and when one is written on another thread.
TEST(TimerQueueTest, SnapshotsKeepTheTimersOfTheirMoment) {
  TestBackend backend;
  auto& queue = backend.registerInternalTable<internal::TimerQueue>("_timers");
  using Entry = TimerCollectingSink::Entry;
  std::set<Entry> oracle;
  std::mt19937_64 random(11);
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h"};
  const std::vector<std::string> namespaces = {"", "w1"};
  struct Taken {
    std::unique_ptr<internal::KeyedStateTableSnapshot> snapshot;
    std::set<Entry> expected;
  };
  std::vector<Taken> alive;
  int checked = 0;
  const auto check = [&](Taken& taken, int step) {
    TimerCollectingSink sink;
    for (int keyGroup : taken.snapshot->keyGroups())
      taken.snapshot->write(keyGroup, sink);
    EXPECT_EQ(sink.entries, taken.expected) << "step " << step;
    ++checked;
  };
  int64_t watermark = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = random() % 100;
    if (op < 2 && alive.size() < 3) {
      alive.push_back(Taken{queue.snapshotTable(0, 15), oracle});
      continue;
    }
    if (op < 4 && !alive.empty()) {
      const size_t which = random() % alive.size();
      if (random() % 2 == 0) {
        check(alive[which], step);
      } else {
        // Written on another thread while this one goes on changing the queue.
        std::thread writer([&, which] { check(alive[which], step); });
        for (int i = 0; i < 50; ++i) {
          backend.setKeyString(keys[random() % keys.size()]);
          const int64_t time = watermark + static_cast<int64_t>(random() % 50);
          queue.remove(time, "");
          oracle.erase(
              Entry{time, backend.currentKeyGroup(), std::string(backend.currentKey()), ""});
        }
        writer.join();
      }
      alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(which));
      continue;
    }
    const std::string& key = keys[random() % keys.size()];
    const std::string& ns = namespaces[random() % namespaces.size()];
    const int64_t time = watermark + static_cast<int64_t>(random() % 50);
    backend.setKeyString(key);
    const Entry entry{time, backend.currentKeyGroup(), std::string(backend.currentKey()), ns};
    if (op < 60) {
      EXPECT_EQ(queue.add(time, ns), oracle.insert(entry).second) << "step " << step;
    } else if (op < 90) {
      queue.remove(time, ns);
      oracle.erase(entry);
    } else {
      watermark += static_cast<int64_t>(random() % 10);
      while (auto timer = queue.pollDue(watermark)) {
        ASSERT_FALSE(oracle.empty()) << "step " << step;
        EXPECT_EQ(Entry(timer->timestamp, timer->keyGroup, timer->key, timer->stateNamespace),
                  *oracle.begin())
            << "step " << step;
        oracle.erase(oracle.begin());
      }
    }
    ASSERT_EQ(queue.size(), oracle.size()) << "step " << step;
  }
  for (Taken& taken : alive)
    check(taken, -1);
  EXPECT_GT(checked, 100);
}

TEST(KeyedStateTest, NoCurrentKey) {
  TestBackend backend;
  RuntimeContext ctx;
  ctx.keyedStateBackend = &backend;
  auto& s = ctx.getMapState(MapStateDescriptor<std::string, int>("m"));
  EXPECT_THROW(s.get("x"), StateException);
  RuntimeContext unkeyed;
  unkeyed.operatorName = "Map";
  EXPECT_THROW(unkeyed.getState(ValueStateDescriptor<int>("v")), StateException);
}

}  // namespace
}  // namespace brook
