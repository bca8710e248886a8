#include "state/rocksdb_keyed_store.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/configuration.h"
#include "common/status_macros.h"
#include "state/testing/keyed_state_model.h"

namespace brook::state {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxParallelism = 128;
constexpr KeyGroupRange kAllKeyGroups{0, kMaxParallelism - 1};

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    absl::Status assert_ok_status_ = (expr);                  \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_; \
  } while (0)

/// A store and an oracle model that every operation updates alike.
class StoreAndModel {
 public:
  explicit StoreAndModel(std::unique_ptr<RocksDbKeyedStore> store) : store_(std::move(store)) {}

  RocksDbKeyedStore& store() { return *store_; }
  KeyedStateModel& model() { return model_; }
  std::unique_ptr<RocksDbKeyedStore> release() { return std::move(store_); }

  StateId id(const std::string& state, StateKind kind) {
    model_.kinds[state] = kind;
    auto id = store_->registerState(state, kind);
    EXPECT_TRUE(id.ok()) << id.status();
    return *id;
  }

  static int group(const std::string& key) { return keyGroupFor(key, kMaxParallelism); }

  void putValue(const std::string& state,
                const std::string& key,
                const std::string& ns,
                const std::string& value) {
    ASSERT_OK(store_->putValue(id(state, StateKind::kValue), group(key), key, ns, value));
    model_.values[{state, group(key), key, ns}] = value;
  }
  void removeValue(const std::string& state, const std::string& key, const std::string& ns) {
    ASSERT_OK(store_->removeValue(id(state, StateKind::kValue), group(key), key, ns));
    model_.values.erase({state, group(key), key, ns});
  }
  void addToList(const std::string& state,
                 const std::string& key,
                 const std::string& ns,
                 const std::string& element) {
    ASSERT_OK(store_->addToList(id(state, StateKind::kList), group(key), key, ns, element));
    model_.lists[{state, group(key), key, ns}].push_back(element);
  }
  void updateList(const std::string& state,
                  const std::string& key,
                  const std::string& ns,
                  const std::vector<std::string>& elements) {
    ASSERT_OK(store_->updateList(id(state, StateKind::kList), group(key), key, ns, elements));
    model_.lists[{state, group(key), key, ns}] = elements;
  }
  void putMap(const std::string& state,
              const std::string& key,
              const std::string& ns,
              const std::string& userKey,
              const std::string& value) {
    ASSERT_OK(store_->putMapValue(id(state, StateKind::kMap), group(key), key, ns, userKey, value));
    model_.maps[{state, group(key), key, ns, userKey}] = value;
  }
  void removeMap(const std::string& state,
                 const std::string& key,
                 const std::string& ns,
                 const std::string& userKey) {
    ASSERT_OK(store_->removeMapValue(id(state, StateKind::kMap), group(key), key, ns, userKey));
    model_.maps.erase({state, group(key), key, ns, userKey});
  }
  void clearAll(const std::string& key, const std::string& ns) {
    ASSERT_OK(store_->clearAll(group(key), key, ns));
    for (const auto& [state, kind] : model_.kinds) {
      model_.values.erase({state, group(key), key, ns});
      model_.lists.erase({state, group(key), key, ns});
      eraseMapFromModel(state, key, ns);
    }
  }
  void eraseMapFromModel(const std::string& state, const std::string& key, const std::string& ns) {
    auto first = model_.maps.lower_bound({state, group(key), key, ns, ""});
    auto last = first;
    while (last != model_.maps.end() && std::get<0>(last->first) == state &&
           std::get<2>(last->first) == key && std::get<3>(last->first) == ns) {
      ++last;
    }
    model_.maps.erase(first, last);
  }

  /// Writes 200 values of keys of their own, whose rows push every other row out of an 8 KiB
  /// state cache.
  void pushRowsOut() {
    for (int i = 0; i < 200; ++i) {
      putValue("count", "filler-" + std::to_string(fillers_++), "", "x");
    }
  }
  void clearMap(const std::string& state, const std::string& key, const std::string& ns) {
    ASSERT_OK(store_->clearMap(id(state, StateKind::kMap), group(key), key, ns));
    eraseMapFromModel(state, key, ns);
  }

  /// Reads one entry of each kind and the whole map of (key, ns), and checks them against the
  /// model.
  void expectReads(const std::string& key, const std::string& ns, const std::string& userKey) {
    std::string value;
    auto found = store_->getValue(id("count", StateKind::kValue), group(key), key, ns, &value);
    ASSERT_TRUE(found.ok()) << found.status();
    auto v = model_.values.find({"count", group(key), key, ns});
    ASSERT_EQ(*found, v != model_.values.end()) << key << " " << ns;
    if (*found) {
      EXPECT_EQ(value, v->second);
    }
    std::vector<std::string> elements;
    found = store_->getList(id("events", StateKind::kList), group(key), key, ns, &elements);
    ASSERT_TRUE(found.ok()) << found.status();
    auto l = model_.lists.find({"events", group(key), key, ns});
    const std::vector<std::string> expected =
        l != model_.lists.end() ? l->second : std::vector<std::string>{};
    EXPECT_EQ(*found, !expected.empty());
    EXPECT_EQ(elements, expected);
    found =
        store_->getMapValue(id("by-user", StateKind::kMap), group(key), key, ns, userKey, &value);
    ASSERT_TRUE(found.ok()) << found.status();
    auto m = model_.maps.find({"by-user", group(key), key, ns, userKey});
    ASSERT_EQ(*found, m != model_.maps.end());
    if (*found) {
      EXPECT_EQ(value, m->second);
    }
    auto contains =
        store_->containsMapKey(id("by-user", StateKind::kMap), group(key), key, ns, userKey);
    ASSERT_TRUE(contains.ok()) << contains.status();
    EXPECT_EQ(*contains, m != model_.maps.end());
    auto it = store_->iterateMap(id("by-user", StateKind::kMap), group(key), key, ns);
    ASSERT_TRUE(it.ok()) << it.status();
    std::vector<std::pair<std::string, std::string>> seen;
    for (; (*it)->valid(); (*it)->next()) {
      seen.emplace_back((*it)->userKey(), (*it)->value());
    }
    ASSERT_OK((*it)->status());
    std::vector<std::pair<std::string, std::string>> inModel;
    for (auto e = model_.maps.lower_bound({"by-user", group(key), key, ns, ""});
         e != model_.maps.end() && std::get<0>(e->first) == "by-user" &&
         std::get<2>(e->first) == key && std::get<3>(e->first) == ns;
         ++e) {
      inModel.emplace_back(std::get<4>(e->first), e->second);
    }
    EXPECT_EQ(seen, inModel);
  }

  /// Random operations over `keys` keys, several namespaces and every state kind.
  void randomOperations(uint64_t seed, int keys, int rounds) {
    std::mt19937_64 random(seed);
    const std::vector<std::string> namespaces = {"", "window-1", "window-2",
                                                 std::string("\0\xFF", 2)};
    for (int round = 0; round < rounds; ++round) {
      for (int i = 0; i < keys; ++i) {
        const std::string key = "user-" + std::to_string(i);
        const std::string& ns = namespaces[random() % namespaces.size()];
        switch (random() % 10) {
          case 0:
          case 1:
            putValue("count", key, ns, randomBytes(random, 0, 16));
            break;
          case 2:
            removeValue("count", key, ns);
            break;
          case 3:
          case 4:
            addToList("events", key, ns, randomBytes(random, 0, 12));
            break;
          case 5: {
            std::vector<std::string> elements(random() % 3);
            for (std::string& e : elements) {
              e = randomBytes(random, 0, 8);
            }
            updateList("events", key, ns, elements);
            break;
          }
          case 6:
          case 7:
            putMap("by-user", key, ns, randomBytes(random, 0, 4), randomBytes(random, 0, 10));
            break;
          case 8:
            removeMap("by-user", key, ns, randomBytes(random, 0, 4));
            break;
          case 9:
            if (random() % 4 == 0) {
              clearAll(key, ns);
            } else {
              putValue("sum", key, ns, randomBytes(random, 8, 8));
            }
            break;
        }
      }
    }
  }

 private:
  std::unique_ptr<RocksDbKeyedStore> store_;
  KeyedStateModel model_;
  int fillers_ = 0;
};

class RocksDbKeyedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("brook-state-" + std::to_string(getpid()) + "-" + info->name());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string directory(const std::string& name) { return (root_ / name).string(); }

  std::unique_ptr<RocksDbKeyedStore> open(const std::string& name,
                                          RocksDbKeyedStore::Options options = {}) {
    auto store = RocksDbKeyedStore::open(directory(name), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  /// Runs both phases of a snapshot of `range` and returns its bytes.
  static std::string snapshotBytes(RocksDbKeyedStore& store, KeyGroupRange range) {
    auto snapshot = store.snapshot(range);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    std::ostringstream out;
    auto writer = KeyedStateSnapshotWriter::create(out, "rocksdb.snapshot", kMaxParallelism, range);
    EXPECT_TRUE(writer.ok()) << writer.status();
    absl::Status s = (*snapshot)->write(*writer);
    EXPECT_TRUE(s.ok()) << s;
    s = writer->finish();
    EXPECT_TRUE(s.ok()) << s;
    return out.str();
  }

  static std::vector<ModelEntry> entriesOf(RocksDbKeyedStore& store, KeyGroupRange range) {
    std::string bytes = snapshotBytes(store, range);
    std::istringstream in(bytes);
    auto reader = KeyedStateSnapshotReader::open(in, "rocksdb.snapshot");
    EXPECT_TRUE(reader.ok()) << reader.status();
    auto entries = KeyedStateModel::read(*reader, range);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<ModelEntry>{};
  }

  /// Checks every entry of `model` in `range` through the store's read calls.
  static void expectReadsMatch(RocksDbKeyedStore& store,
                               const KeyedStateModel& model,
                               KeyGroupRange range) {
    std::string value;
    std::vector<std::string> elements;
    for (const auto& [k, v] : model.values) {
      const auto& [state, group, key, ns] = k;
      if (!range.contains(group)) {
        continue;
      }
      auto found = store.getValue(*store.findState(state), group, key, ns, &value);
      ASSERT_TRUE(found.ok()) << found.status();
      ASSERT_TRUE(*found) << state << " " << key;
      EXPECT_EQ(value, v);
    }
    for (const auto& [k, v] : model.lists) {
      const auto& [state, group, key, ns] = k;
      if (!range.contains(group)) {
        continue;
      }
      auto found = store.getList(*store.findState(state), group, key, ns, &elements);
      ASSERT_TRUE(found.ok()) << found.status();
      EXPECT_EQ(*found, !v.empty());
      EXPECT_EQ(elements, v);
    }
    for (const auto& [k, v] : model.maps) {
      const auto& [state, group, key, ns, userKey] = k;
      if (!range.contains(group)) {
        continue;
      }
      auto found = store.getMapValue(*store.findState(state), group, key, ns, userKey, &value);
      ASSERT_TRUE(found.ok()) << found.status();
      ASSERT_TRUE(*found);
      EXPECT_EQ(value, v);
    }
  }

  std::filesystem::path root_;
};

TEST_F(RocksDbKeyedStoreTest, OpenCreatesTheDirectoryAndCloseRemovesIt) {
  const std::string path = directory("tm/job/operator-1");
  auto store = RocksDbKeyedStore::open(path, {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_EQ((*store)->directory(), path);
  ASSERT_OK((*store)->close());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ((*store)->registerState("s", StateKind::kValue).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK((*store)->close());

  // Destruction closes and removes too.
  store = RocksDbKeyedStore::open(path, {});
  ASSERT_TRUE(store.ok()) << store.status();
  store->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(RocksDbKeyedStoreTest, ADirectoryThatCannotBeCreatedFailsWithItsPath) {
  std::filesystem::create_directories(root_);
  std::ofstream(root_ / "file") << "not a directory";
  const std::string path = (root_ / "file" / "db").string();
  auto store = RocksDbKeyedStore::open(path, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(path));

  // A directory left with files by someone else is not reused.
  std::filesystem::create_directories(root_ / "left");
  std::ofstream(root_ / "left" / "CURRENT") << "x";
  store = RocksDbKeyedStore::open((root_ / "left").string(), {});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr((root_ / "left").string()));
  EXPECT_TRUE(std::filesystem::exists(root_ / "left" / "CURRENT"));
}

TEST_F(RocksDbKeyedStoreTest, RejectsBadOptions) {
  RocksDbKeyedStore::Options options;
  options.writeBufferBytes = 0;
  EXPECT_EQ(RocksDbKeyedStore::open(directory("db"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(directory("db")));
}

TEST_F(RocksDbKeyedStoreTest, OptionsComeFromTheConfiguration) {
  Configuration config;
  auto defaults = RocksDbKeyedStore::Options::fromConfiguration(config);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->blockCacheBytes, 64 << 20);
  EXPECT_EQ(defaults->writeBufferBytes, 32 << 20);
  EXPECT_EQ(defaults->maxBackgroundJobs, 2);

  config.set(config_keys::kRocksDbBlockCacheSize, "8 mb");
  config.set(config_keys::kRocksDbWriteBufferSize, "4mb");
  config.set(config_keys::kRocksDbMaxBackgroundJobs, "4");
  auto options = RocksDbKeyedStore::Options::fromConfiguration(config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->blockCacheBytes, 8 << 20);
  EXPECT_EQ(options->writeBufferBytes, 4 << 20);
  EXPECT_EQ(options->maxBackgroundJobs, 4);

  config.set(config_keys::kRocksDbMaxBackgroundJobs, "0");
  auto bad = RocksDbKeyedStore::Options::fromConfiguration(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr(config_keys::kRocksDbMaxBackgroundJobs));
}

TEST_F(RocksDbKeyedStoreTest, RegisteringAStateAgainWithAnotherKindNamesIt) {
  auto store = open("db");
  auto a = store->registerState("clicks", StateKind::kValue);
  ASSERT_TRUE(a.ok());
  auto again = store->registerState("clicks", StateKind::kValue);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  auto b = store->registerState("default", StateKind::kList);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*b, *a);

  auto conflict = store->registerState("clicks", StateKind::kMap);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conflict.status().message()), HasSubstr("'clicks'"));
  EXPECT_EQ(store->findState("nothing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RocksDbKeyedStoreTest, MisuseIsInvalidArgument) {
  auto store = open("db");
  StateId value = *store->registerState("v", StateKind::kValue);
  std::string out;
  std::vector<std::string> elements;
  auto wrongKind = store->getList(value, 0, "k", "", &elements);
  EXPECT_EQ(wrongKind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrongKind.status().message()), HasSubstr("'v'"));
  EXPECT_EQ(store->getValue(StateId{7}, 0, "k", "", &out).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->putValue(value, 1 << 16, "k", "", "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->putValue(value, -1, "k", "", "v").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RocksDbKeyedStoreTest, ValueStateKeepsKeysAndNamespacesApart) {
  auto store = open("db");
  StateId v = *store->registerState("v", StateKind::kValue);
  StateId w = *store->registerState("w", StateKind::kValue);
  // Without length prefixes, ("a", "bc") and ("ab", "c") would be the same RocksDB key.
  ASSERT_OK(store->putValue(v, 5, "a", "bc", "first"));
  ASSERT_OK(store->putValue(v, 5, "ab", "c", "second"));
  ASSERT_OK(store->putValue(v, 6, "a", "bc", "other group"));
  ASSERT_OK(store->putValue(w, 5, "a", "bc", "other state"));
  ASSERT_OK(store->putValue(v, 5, "empty", "", ""));
  std::string value;
  ASSERT_TRUE(*store->getValue(v, 5, "a", "bc", &value));
  EXPECT_EQ(value, "first");
  ASSERT_TRUE(*store->getValue(v, 5, "ab", "c", &value));
  EXPECT_EQ(value, "second");
  ASSERT_TRUE(*store->getValue(v, 6, "a", "bc", &value));
  EXPECT_EQ(value, "other group");
  ASSERT_TRUE(*store->getValue(w, 5, "a", "bc", &value));
  EXPECT_EQ(value, "other state");
  ASSERT_TRUE(*store->getValue(v, 5, "empty", "", &value));
  EXPECT_EQ(value, "");
  EXPECT_FALSE(*store->getValue(v, 5, "a", "b", &value));

  ASSERT_OK(store->removeValue(v, 5, "a", "bc"));
  EXPECT_FALSE(*store->getValue(v, 5, "a", "bc", &value));
  EXPECT_TRUE(*store->getValue(v, 5, "ab", "c", &value));
}

TEST_F(RocksDbKeyedStoreTest, ListStateAppendsThroughTheMergeOperator) {
  auto store = open("db");
  StateId l = *store->registerState("l", StateKind::kList);
  std::vector<std::string> expected;
  std::vector<std::string> elements;
  EXPECT_FALSE(*store->getList(l, 1, "k", "", &elements));
  for (int i = 0; i < 300; ++i) {
    std::string element = i % 7 == 0 ? std::string() : std::string(i % 50, static_cast<char>(i));
    ASSERT_OK(store->addToList(l, 1, "k", "", element));
    expected.push_back(element);
    if (i == 100 || i == 200) {
      // Merge operands now also meet in flushes and compactions.
      ASSERT_OK(store->flushAndCompact());
    }
  }
  std::vector<std::string> more = {"x", "", "y"};
  ASSERT_OK(store->addAllToList(l, 1, "k", "", more));
  expected.insert(expected.end(), more.begin(), more.end());
  ASSERT_TRUE(*store->getList(l, 1, "k", "", &elements));
  EXPECT_EQ(elements, expected);
  EXPECT_FALSE(*store->getList(l, 1, "k", "other", &elements));
  EXPECT_TRUE(elements.empty());

  ASSERT_OK(store->updateList(l, 1, "k", "", std::vector<std::string>{"only"}));
  ASSERT_OK(store->addToList(l, 1, "k", "", "then"));
  ASSERT_TRUE(*store->getList(l, 1, "k", "", &elements));
  EXPECT_EQ(elements, (std::vector<std::string>{"only", "then"}));

  ASSERT_OK(store->updateList(l, 1, "k", "", std::vector<std::string>{}));
  EXPECT_FALSE(*store->getList(l, 1, "k", "", &elements));
  ASSERT_OK(store->addToList(l, 1, "k", "", "again"));
  ASSERT_OK(store->clearList(l, 1, "k", ""));
  EXPECT_FALSE(*store->getList(l, 1, "k", "", &elements));
}

// With the state cache, appends to a list the cache does not hold wait in the cache without
// reading the list; a read, a snapshot or an eviction merges them with what RocksDB holds.
TEST_F(RocksDbKeyedStoreTest, ListAppendsWaitInTheCacheAndMergeWithWhatRocksDbHolds) {
  RocksDbKeyedStore::Options options;
  options.stateCacheBytes = 1 << 20;
  StoreAndModel s(open("db", options));
  s.addToList("events", "k", "", "a");
  s.addToList("events", "k", "", "b");
  ASSERT_OK(s.store().flushAndCompact());  // RocksDB holds [a, b], the cache nothing
  s.addToList("events", "k", "", "c");
  s.addToList("events", "k", "", "d");
  s.addToList("events", "fresh", "", "x");
  // A snapshot writes the appended elements back as merges.
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
  s.addToList("events", "k", "", "e");
  s.expectReads("k", "", "");
  s.addToList("events", "k", "", "f");
  s.expectReads("k", "", "");
  ASSERT_OK(s.store().flushAndCompact());
  s.expectReads("k", "", "");
  s.expectReads("fresh", "", "");
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
  // Replaced or cleared before any read: what RocksDB held is gone.
  s.addToList("events", "k", "", "g");
  s.updateList("events", "k", "", {"only"});
  s.addToList("events", "fresh", "", "y");
  s.clearAll("fresh", "");
  s.addToList("events", "fresh", "", "z");
  s.expectReads("k", "", "");
  s.expectReads("fresh", "", "");
  ASSERT_OK(s.store().flushAndCompact());
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
}

TEST_F(RocksDbKeyedStoreTest, MapStateIteratesOnlyItsOwnEntries) {
  auto store = open("db");
  StateId m = *store->registerState("m", StateKind::kMap);
  // Neighbours whose encoded prefixes are close to ("a", "") in every way.
  ASSERT_OK(store->putMapValue(m, 3, "a", "", "b", "1"));
  ASSERT_OK(store->putMapValue(m, 3, "a", "", "a", "2"));
  ASSERT_OK(store->putMapValue(m, 3, "a", "", "", "empty user key"));
  ASSERT_OK(store->putMapValue(m, 3, "a", "x", "a", "other namespace"));
  ASSERT_OK(store->putMapValue(m, 3, "ab", "", "a", "other key"));
  ASSERT_OK(store->putMapValue(m, 4, "a", "", "a", "other group"));

  auto it = store->iterateMap(m, 3, "a", "");
  ASSERT_TRUE(it.ok());
  std::vector<std::pair<std::string, std::string>> seen;
  for (; (*it)->valid(); (*it)->next()) {
    seen.emplace_back((*it)->userKey(), (*it)->value());
  }
  ASSERT_OK((*it)->status());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"", "empty user key"}, {"a", "2"}, {"b", "1"}}));

  std::string value;
  EXPECT_TRUE(*store->containsMapKey(m, 3, "a", "", "a"));
  EXPECT_FALSE(*store->containsMapKey(m, 3, "a", "", "c"));
  ASSERT_TRUE(*store->getMapValue(m, 3, "a", "x", "a", &value));
  EXPECT_EQ(value, "other namespace");
  ASSERT_OK(store->removeMapValue(m, 3, "a", "", "a"));
  EXPECT_FALSE(*store->containsMapKey(m, 3, "a", "", "a"));

  ASSERT_OK(store->clearMap(m, 3, "a", ""));
  auto empty = store->iterateMap(m, 3, "a", "");
  EXPECT_FALSE((*empty)->valid());
  EXPECT_TRUE(*store->containsMapKey(m, 3, "a", "x", "a"));
  EXPECT_TRUE(*store->containsMapKey(m, 3, "ab", "", "a"));
  EXPECT_TRUE(*store->containsMapKey(m, 4, "a", "", "a"));

  // The largest key group with an all-0xFF key and namespace has no prefix successor.
  const std::string ff(3, '\xFF');
  ASSERT_OK(store->putMapValue(m, 0xFFFF, ff, ff, ff, "edge"));
  auto edge = store->iterateMap(m, 0xFFFF, ff, ff);
  ASSERT_TRUE((*edge)->valid());
  EXPECT_EQ((*edge)->userKey(), ff);
  (*edge)->next();
  EXPECT_FALSE((*edge)->valid());
}

TEST_F(RocksDbKeyedStoreTest, ClearAllClearsEveryStateOfOneKeyAndNamespace) {
  StoreAndModel s(open("db"));
  for (std::string ns : {"n1", "n2"}) {
    for (std::string key : {"k1", "k2"}) {
      s.putValue("v", key, ns, "value");
      s.addToList("l", key, ns, "element");
      s.putMap("m", key, ns, "uk1", "uv");
      s.putMap("m", key, ns, "uk2", "uv");
    }
  }
  s.clearAll("k1", "n1");
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
  EXPECT_EQ(s.model().entries(kAllKeyGroups).size(), 3u * 4u);
}

TEST_F(RocksDbKeyedStoreTest, RandomOperationsMatchTheModel) {
  StoreAndModel s(open("db"));
  s.randomOperations(7, 1000, 3);
  ASSERT_OK(s.store().flushAndCompact());
  s.randomOperations(8, 1000, 2);
  expectReadsMatch(s.store(), s.model(), kAllKeyGroups);
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
}

// The state cache in front of RocksDB: off, so small that nearly every operation evicts, and the
// default. Reads (which cache what they find, also absent entries), map clears and iterations,
// and snapshots taken while entries are dirty must all see exactly the model.
TEST_F(RocksDbKeyedStoreTest, RandomOperationsAndReadsMatchTheModelWhateverTheStateCache) {
  for (int64_t cacheBytes : {int64_t{0}, int64_t{2} << 10, int64_t{64} << 10, int64_t{16} << 20}) {
    SCOPED_TRACE(cacheBytes);
    RocksDbKeyedStore::Options options;
    options.stateCacheBytes = cacheBytes;
    StoreAndModel s(open("db-" + std::to_string(cacheBytes), options));
    std::mt19937_64 random(static_cast<uint64_t>(cacheBytes) + 1);
    const std::vector<std::string> namespaces = {"", "w1", "w2"};
    for (int round = 0; round < 6; ++round) {
      s.randomOperations(static_cast<uint64_t>(round), 200, 1);
      for (int i = 0; i < 300; ++i) {
        const std::string key = "user-" + std::to_string(random() % 200);
        const std::string& ns = namespaces[random() % namespaces.size()];
        const std::string userKey = randomBytes(random, 0, 4);
        switch (random() % 8) {
          case 0:
            s.clearMap("by-user", key, ns);
            break;
          case 1:
            s.addToList("events", key, ns, randomBytes(random, 0, 6));
            break;
          case 2:
            s.putMap("by-user", key, ns, userKey, randomBytes(random, 0, 6));
            break;
          default:
            s.expectReads(key, ns, userKey);
            break;
        }
        if (::testing::Test::HasFatalFailure()) {
          return;
        }
      }
      // Snapshots see the cache's dirty entries.
      EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
    }
    expectReadsMatch(s.store(), s.model(), kAllKeyGroups);
    const RocksDbKeyedStore::MemoryUsage usage = s.store().memoryUsage();
    EXPECT_LE(usage.stateCacheBytes, cacheBytes + (4 << 10));
    if (cacheBytes > 0) {
      EXPECT_GT(usage.stateCacheBytes, 0);
    }
    // A restore into another store sees everything too.
    std::string bytes = snapshotBytes(s.store(), kAllKeyGroups);
    std::istringstream in(bytes);
    auto reader = KeyedStateSnapshotReader::open(in, "rocksdb.snapshot");
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::unique_ptr<RocksDbKeyedStore> restored =
        open("restored-" + std::to_string(cacheBytes), options);
    ASSERT_OK(restored->restore(*reader, kAllKeyGroups));
    expectReadsMatch(*restored, s.model(), kAllKeyGroups);
    EXPECT_EQ(entriesOf(*restored, kAllKeyGroups), s.model().entries(kAllKeyGroups));
  }
}

// A value or list written without a read and removed before the cache wrote it back: what
// RocksDB holds for the key (in a table file, in a memtable, or nothing) is gone too.
TEST_F(RocksDbKeyedStoreTest, ABlindWriteRemovedBeforeItsWriteBackRemovesWhatRocksDbHolds) {
  RocksDbKeyedStore::Options options;
  options.stateCacheBytes = 8 << 10;
  StoreAndModel s(open("db", options));
  const std::vector<std::string> keys = {"in-a-file", "in-a-memtable", "never-stored"};
  s.putValue("count", "in-a-file", "", "old");
  s.updateList("events", "in-a-file", "", {"old"});
  ASSERT_OK(s.store().flushAndCompact());
  s.putValue("count", "in-a-memtable", "", "old");
  s.updateList("events", "in-a-memtable", "", {"old", "older"});
  s.pushRowsOut();
  for (const std::string& key : keys) {
    s.putValue("count", key, "", "new");
    s.updateList("events", key, "", {"new"});
    s.removeValue("count", key, "");
    s.updateList("events", key, "", {});
    s.expectReads(key, "", "");
  }
  s.pushRowsOut();
  for (const std::string& key : keys) {
    s.expectReads(key, "", "");
  }
  ASSERT_OK(s.store().flushAndCompact());
  s.pushRowsOut();
  for (const std::string& key : keys) {
    s.expectReads(key, "", "");
  }
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
}

// The store scans maps that the cache lacks with iterators it keeps between reads: a map that
// reached RocksDB after an iterator was made (written back from the cache, or cleared there) is
// read as it is now, and rows of other keys, namespaces and states stay apart.
TEST_F(RocksDbKeyedStoreTest, AMapReadSeesWhatReachedRocksDbSinceTheLastMapRead) {
  RocksDbKeyedStore::Options options;
  options.stateCacheBytes = 8 << 10;
  StoreAndModel s(open("db", options));
  const auto expectMap = [&](const std::string& key, const std::string& ns,
                             const std::string& userKey) {
    std::string value;
    auto found = s.store().getMapValue(s.id("by-user", StateKind::kMap), StoreAndModel::group(key),
                                       key, ns, userKey, &value);
    ASSERT_TRUE(found.ok()) << found.status();
    auto m = s.model().maps.find({"by-user", StoreAndModel::group(key), key, ns, userKey});
    ASSERT_EQ(*found, m != s.model().maps.end()) << key << "/" << ns << "/" << userKey;
    if (*found) {
      EXPECT_EQ(value, m->second);
    }
  };
  for (int round = 0; round < 30; ++round) {
    const std::string key = "map-" + std::to_string(round);
    // A read of a map RocksDB does not hold, then of one that it does.
    expectMap("never-written-" + std::to_string(round), "", "u");
    if (round > 0) {
      expectMap("map-" + std::to_string(round - 1), "", "u");
    }
    s.putMap("by-user", key, "", "u", "v" + std::to_string(round));
    s.putMap("by-user", key, "w", "u", "in a namespace");
    s.putMap("other-map", key, "", "u", "in another state");
    if (round % 3 == 2) {
      s.clearMap("by-user", "map-" + std::to_string(round - 1), "");
    }
    s.pushRowsOut();
    expectMap(key, "", "u");
    expectMap(key, "w", "u");
    expectMap(key + "x", "", "u");
    if (round % 3 == 2) {
      expectMap("map-" + std::to_string(round - 1), "", "u");
    }
    if (round == 15) {
      ASSERT_OK(s.store().flushAndCompact());
    }
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
}

TEST_F(RocksDbKeyedStoreTest, AMapClearedThroughTheCacheStaysEmptyInRocksDb) {
  RocksDbKeyedStore::Options options;
  options.stateCacheBytes = 1 << 20;
  StoreAndModel s(open("db", options));
  for (int i = 0; i < 50; ++i) {
    s.putMap("by-user", "k", "", "u" + std::to_string(i), "v");
  }
  ASSERT_OK(s.store().flushAndCompact());
  s.putMap("by-user", "k", "", "dirty", "v");
  s.clearMap("by-user", "k", "");
  s.putMap("by-user", "k", "", "after", "v2");
  s.expectReads("k", "", "u3");
  s.expectReads("k", "", "after");
  ASSERT_OK(s.store().flushAndCompact());
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
  EXPECT_EQ(s.model().entries(kAllKeyGroups).size(), 1u);
}

// A read of a map that is not cached reads the whole map into the cache when it is small, and
// part of it when it is large; either way later reads, writes and iterations see the model.
TEST_F(RocksDbKeyedStoreTest, SmallAndLargeMapsReadThroughTheCacheMatchTheModel) {
  StoreAndModel s(open("db"));
  for (int i = 0; i < 200; ++i) {
    s.putMap("by-user", "large", "", "u" + std::to_string(1000 + i), "v" + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) {
    s.putMap("by-user", "small", "", "u" + std::to_string(1000 + i), "v" + std::to_string(i));
  }
  ASSERT_OK(s.store().flushAndCompact());
  for (const std::string key : {"large", "small"}) {
    s.expectReads(key, "", "u1003");  // present
    s.expectReads(key, "", "u1150");  // present in the large map only, after the first 64
    s.expectReads(key, "", "absent");
    s.removeMap("by-user", key, "", "u1001");
    s.putMap("by-user", key, "", "u1199", "changed");
    s.putMap("by-user", key, "", "new", "added");
    s.expectReads(key, "", "u1001");
    s.expectReads(key, "", "u1199");
    s.expectReads(key, "", "new");
  }
  EXPECT_EQ(entriesOf(s.store(), kAllKeyGroups), s.model().entries(kAllKeyGroups));
}

TEST_F(RocksDbKeyedStoreTest, ANegativeStateCacheIsRejected) {
  RocksDbKeyedStore::Options options;
  options.stateCacheBytes = -1;
  auto store = RocksDbKeyedStore::open(directory("db"), options);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("state cache"));
  Configuration config;
  config.set(config_keys::kRocksDbStateCacheSize, "2mb");
  auto fromConfig = RocksDbKeyedStore::Options::fromConfiguration(config);
  ASSERT_TRUE(fromConfig.ok()) << fromConfig.status();
  EXPECT_EQ(fromConfig->stateCacheBytes, 2 << 20);
}

TEST_F(RocksDbKeyedStoreTest, RestoresAtAnotherParallelismExactly) {
  StoreAndModel s(open("source"));
  s.randomOperations(9, 1000, 4);
  ASSERT_OK(s.store().flushAndCompact());
  s.randomOperations(10, 1000, 1);  // Some state in memtables and merge operands, too.
  const std::string bytes = snapshotBytes(s.store(), kAllKeyGroups);

  size_t total = 0;
  for (int index = 0; index < 3; ++index) {
    SCOPED_TRACE("subtask " + std::to_string(index) + " of 3");
    const KeyGroupRange range = keyGroupRangeFor(kMaxParallelism, 3, index);
    auto target = open("target-" + std::to_string(index));
    std::istringstream in(bytes);
    auto reader = KeyedStateSnapshotReader::open(in, "rocksdb.snapshot");
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_OK(target->restore(*reader, range));
    // Exactly the range's entries: nothing outside it, nothing missing, nothing changed.
    std::vector<ModelEntry> expected = s.model().entries(range);
    EXPECT_EQ(entriesOf(*target, kAllKeyGroups), expected);
    expectReadsMatch(*target, s.model(), range);
    total += expected.size();
  }
  EXPECT_EQ(total, s.model().entries(kAllKeyGroups).size());
  EXPECT_GT(total, 3000u);
}

TEST_F(RocksDbKeyedStoreTest, RestoresFromSeveralSnapshotsWhenScalingUp) {
  // Parallelism 2 -> 3: each new subtask reads the old snapshots its range intersects.
  KeyedStateModel all;
  std::vector<std::string> snapshots;
  for (int index = 0; index < 2; ++index) {
    const KeyGroupRange range = keyGroupRangeFor(kMaxParallelism, 2, index);
    StoreAndModel s(open("old-" + std::to_string(index)));
    std::mt19937_64 random(11 + index);
    for (int i = 0; i < 1000; ++i) {
      std::string key = "key-" + std::to_string(i);
      if (!range.contains(StoreAndModel::group(key))) {
        continue;
      }
      s.putValue("v", key, "", randomBytes(random, 0, 8));
      s.addToList("l", key, "ns", randomBytes(random, 0, 8));
      s.putMap("m", key, "ns", randomBytes(random, 1, 3), randomBytes(random, 0, 8));
    }
    all.values.insert(s.model().values.begin(), s.model().values.end());
    all.lists.insert(s.model().lists.begin(), s.model().lists.end());
    all.maps.insert(s.model().maps.begin(), s.model().maps.end());
    snapshots.push_back(snapshotBytes(s.store(), range));
  }
  for (int index = 0; index < 3; ++index) {
    const KeyGroupRange range = keyGroupRangeFor(kMaxParallelism, 3, index);
    auto target = open("new-" + std::to_string(index));
    for (const std::string& bytes : snapshots) {
      std::istringstream in(bytes);
      auto reader = KeyedStateSnapshotReader::open(in, "old.snapshot");
      ASSERT_TRUE(reader.ok()) << reader.status();
      ASSERT_OK(target->restore(*reader, range));
    }
    EXPECT_EQ(entriesOf(*target, kAllKeyGroups), all.entries(range)) << "subtask " << index;
  }
}

/// Extra content of one value state in every key group listed.
class OneValuePerKeyGroup : public KeyGroupedSnapshotContent {
 public:
  explicit OneValuePerKeyGroup(std::vector<int> groups) : groups_(std::move(groups)) {}
  std::span<const int> keyGroups() const override { return groups_; }
  absl::Status writeKeyGroup(int keyGroup, KeyedStateSnapshotWriter& writer) const override {
    BROOK_RETURN_IF_ERROR(writer.beginState("_timers", StateKind::kValue));
    return writer.writeValue("k", "", std::to_string(keyGroup));
  }

 private:
  std::vector<int> groups_;
};

TEST_F(RocksDbKeyedStoreTest, ANativeSnapshotRestoresTheSameKeyGroupsByAdoptingItsFiles) {
  StoreAndModel s(open("source"));
  s.randomOperations(21, 1000, 3);
  ASSERT_OK(s.store().flushAndCompact());
  s.randomOperations(22, 1000, 1);  // in memtables and merge operands: the checkpoint flushes
  const std::vector<ModelEntry> expected = s.model().entries(kAllKeyGroups);
  auto snapshot = s.store().nativeSnapshot(
      kAllKeyGroups, std::make_unique<OneValuePerKeyGroup>(std::vector<int>{3, 70}),
      directory("native"));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const NativeSnapshotFiles* files = (*snapshot)->nativeFiles();
  ASSERT_NE(files, nullptr);
  EXPECT_THAT(files->files, ::testing::Contains(::testing::EndsWith(".sst")));
  EXPECT_THAT(files->files, ::testing::Contains("CURRENT"));
  // Later writes do not reach the snapshot's files.
  s.store().putValue(*s.store().findState("count"), 1, "late", "", "x").IgnoreError();

  // `write` writes the extra content alone.
  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "extra", kMaxParallelism, kAllKeyGroups);
  ASSERT_TRUE(writer.ok());
  ASSERT_OK((*snapshot)->write(*writer));
  ASSERT_OK(writer->finish());
  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "extra");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->keyGroupsWithEntries(), (std::vector<int>{3, 70}));

  // A copy of the files, as a restore stages them, becomes the new store.
  std::filesystem::copy(files->directory, directory("staged"));
  auto target = open("target");
  auto restored = target->restoreNative(directory("staged"), kAllKeyGroups, kAllKeyGroups);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, NativeRestore::kFilesAdopted);
  EXPECT_FALSE(std::filesystem::exists(directory("staged")));
  EXPECT_EQ(entriesOf(*target, kAllKeyGroups), expected);
  expectReadsMatch(*target, s.model(), kAllKeyGroups);
  // The adopted store goes on: appending to a restored list merges with it.
  StateId events = *target->findState("events");
  ASSERT_OK(target->addToList(events, 5, "k", "", "a"));
  ASSERT_OK(target->addToList(events, 5, "k", "", "b"));
  std::vector<std::string> elements;
  ASSERT_TRUE(*target->getList(events, 5, "k", "", &elements));
  EXPECT_EQ(elements, (std::vector<std::string>{"a", "b"}));

  const std::string nativeDirectory = files->directory;
  snapshot->reset();
  EXPECT_FALSE(std::filesystem::exists(nativeDirectory));
}

TEST_F(RocksDbKeyedStoreTest, ANativeSnapshotRestoresAtAnotherParallelismExactly) {
  StoreAndModel s(open("source"));
  s.randomOperations(23, 1000, 3);
  auto snapshot = s.store().nativeSnapshot(kAllKeyGroups, nullptr, directory("native"));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  size_t total = 0;
  for (int index = 0; index < 3; ++index) {
    SCOPED_TRACE("subtask " + std::to_string(index) + " of 3");
    const KeyGroupRange range = keyGroupRangeFor(kMaxParallelism, 3, index);
    const std::string staged = directory("staged-" + std::to_string(index));
    std::filesystem::copy((*snapshot)->nativeFiles()->directory, staged);
    auto target = open("target-" + std::to_string(index));
    // A state registered before the restore keeps its id.
    auto count = target->registerState("count", StateKind::kValue);
    ASSERT_TRUE(count.ok());
    auto restored = target->restoreNative(staged, kAllKeyGroups, range);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(*restored, NativeRestore::kEntriesCopied);
    EXPECT_FALSE(std::filesystem::exists(staged));
    EXPECT_EQ(*target->findState("count"), *count);
    std::vector<ModelEntry> expected = s.model().entries(range);
    EXPECT_EQ(entriesOf(*target, kAllKeyGroups), expected);
    expectReadsMatch(*target, s.model(), range);
    total += expected.size();
  }
  EXPECT_EQ(total, s.model().entries(kAllKeyGroups).size());
}

TEST_F(RocksDbKeyedStoreTest, NativeFilesThatAreNotAStoresFailTheRestoreWithDataLoss) {
  auto target = open("target");
  std::filesystem::create_directories(directory("garbage"));
  std::ofstream(directory("garbage") + "/CURRENT") << "MANIFEST-000099\n";
  absl::Status s =
      target->restoreNative(directory("garbage"), kAllKeyGroups, kAllKeyGroups).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr(directory("garbage")));
  // The store is still usable.
  auto id = target->registerState("v", StateKind::kValue);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_OK(target->putValue(*id, 0, "k", "", "v"));
}

TEST_F(RocksDbKeyedStoreTest, RoundTripsThroughTheCanonicalFormatOfAnotherBackend) {
  // The model writes the snapshot as the heap backend does; RocksDB restores it and writes it
  // back byte-for-byte equivalent.
  StoreAndModel source(open("unused"));
  source.randomOperations(12, 1000, 3);
  const KeyedStateModel& model = source.model();
  std::ostringstream out;
  auto writer =
      KeyedStateSnapshotWriter::create(out, "heap.snapshot", kMaxParallelism, kAllKeyGroups);
  ASSERT_TRUE(writer.ok());
  ASSERT_OK(model.write(*writer, kAllKeyGroups));
  ASSERT_OK(writer->finish());

  auto target = open("target");
  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "heap.snapshot");
  ASSERT_TRUE(reader.ok());
  ASSERT_OK(target->restore(*reader, kAllKeyGroups));
  expectReadsMatch(*target, model, kAllKeyGroups);
  EXPECT_EQ(entriesOf(*target, kAllKeyGroups), model.entries(kAllKeyGroups));
}

TEST_F(RocksDbKeyedStoreTest, TheAsynchronousPhaseDoesNotSeeLaterWrites) {
  StoreAndModel s(open("db"));
  s.randomOperations(13, 1000, 2);
  const std::vector<ModelEntry> before = s.model().entries(kAllKeyGroups);

  auto snapshot = s.store().snapshot(kAllKeyGroups);
  ASSERT_TRUE(snapshot.ok());
  std::ostringstream out;
  absl::Status written;
  {
    // The asynchronous phase runs on its own thread while the task keeps writing.
    std::jthread writerThread([&] {
      auto writer =
          KeyedStateSnapshotWriter::create(out, "async.snapshot", kMaxParallelism, kAllKeyGroups);
      written = writer.ok() ? (*snapshot)->write(*writer) : writer.status();
      if (written.ok()) {
        written = writer->finish();
      }
    });
    s.randomOperations(14, 1000, 2);
    ASSERT_OK(s.store().flushAndCompact());
    for (int i = 0; i < 200; ++i) {
      s.clearAll("user-" + std::to_string(i), "");
      s.putValue("late-state", "user-" + std::to_string(i), "", "late");
    }
  }
  ASSERT_OK(written);
  snapshot->reset();

  auto target = open("target");
  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "async.snapshot");
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_OK(target->restore(*reader, kAllKeyGroups));
  EXPECT_EQ(entriesOf(*target, kAllKeyGroups), before);
  EXPECT_NE(s.model().entries(kAllKeyGroups), before);
}

TEST_F(RocksDbKeyedStoreTest, ASnapshotKeepsRocksDbOpenPastClose) {
  StoreAndModel s(open("db"));
  s.randomOperations(15, 200, 2);
  const KeyGroupRange range{0, 63};
  auto snapshot = s.store().snapshot(range);
  ASSERT_TRUE(snapshot.ok());
  std::unique_ptr<RocksDbKeyedStore> store = s.release();
  ASSERT_OK(store->close());
  EXPECT_TRUE(std::filesystem::exists(directory("db")));

  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "late", kMaxParallelism, range);
  ASSERT_OK((*snapshot)->write(*writer));
  ASSERT_OK(writer->finish());
  snapshot->reset();
  EXPECT_FALSE(std::filesystem::exists(directory("db")));

  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "late");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*KeyedStateModel::read(*reader, range), s.model().entries(range));
}

TEST_F(RocksDbKeyedStoreTest, RestoringAStateAsAnotherKindNamesIt) {
  KeyedStateModel model;
  model.values[{"shared", 1, "k", ""}] = "v";
  std::ostringstream out;
  auto writer =
      KeyedStateSnapshotWriter::create(out, "kinds.snapshot", kMaxParallelism, kAllKeyGroups);
  ASSERT_OK(model.write(*writer, kAllKeyGroups));
  ASSERT_OK(writer->finish());

  auto target = open("db");
  ASSERT_TRUE(target->registerState("shared", StateKind::kMap).ok());
  std::istringstream in(out.str());
  auto reader = KeyedStateSnapshotReader::open(in, "kinds.snapshot");
  absl::Status s = target->restore(*reader, kAllKeyGroups);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'shared'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("kinds.snapshot"));
}

TEST_F(RocksDbKeyedStoreTest, ACorruptSnapshotFailsTheRestoreWithDataLoss) {
  StoreAndModel s(open("source"));
  s.randomOperations(16, 300, 1);
  std::string bytes = snapshotBytes(s.store(), kAllKeyGroups);
  bytes[bytes.size() / 2] ^= 0x10;
  auto target = open("target");
  std::istringstream in(bytes);
  auto reader = KeyedStateSnapshotReader::open(in, "corrupt.snapshot");
  ASSERT_TRUE(reader.ok());
  absl::Status status = target->restore(*reader, kAllKeyGroups);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("corrupt.snapshot"));
}

/// A stored TtlValue: `payload` followed by the last-access time, int64 little-endian.
std::string ttlValue(const std::string& payload, int64_t lastAccessMillis) {
  std::string bytes = payload;
  for (int i = 0; i < 8; ++i) {
    bytes.push_back(static_cast<char>((static_cast<uint64_t>(lastAccessMillis) >> (8 * i)) & 0xFF));
  }
  return bytes;
}

TEST_F(RocksDbKeyedStoreTest, TimeToLiveDropsExpiredEntriesFromSnapshotsAndCompactions) {
  std::atomic<int64_t> now{1000};
  RocksDbKeyedStore::Options options;
  options.clock = [&now] {
    return now.load();
  };
  StoreAndModel s(open("db", options));
  RocksDbKeyedStore& store = s.store();
  const StateId v = s.id("value", StateKind::kValue);
  const StateId l = s.id("list", StateKind::kList);
  const StateId m = s.id("map", StateKind::kMap);
  s.id("plain", StateKind::kValue);
  for (StateId id : {v, l, m}) {
    ASSERT_OK(store.setTimeToLive(id, 100));
  }
  EXPECT_EQ(store.setTimeToLive(v, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.setTimeToLive(StateId{9}, 100).code(), absl::StatusCode::kInvalidArgument);

  // At 1000 with a time-to-live of 100, entries last accessed at 900 or before have expired.
  s.putValue("value", "a", "", ttlValue("old", 900));
  s.putValue("value", "b", "", ttlValue("new", 901));
  s.putValue("value", "c", "", "x");  // too short to hold a time: kept
  s.putValue("plain", "a", "", ttlValue("no ttl", 0));
  // Lists through the merge operator, and one replaced whole (a Put).
  for (const std::string& element : {ttlValue("1", 800), ttlValue("2", 950), ttlValue("3", 850)}) {
    s.addToList("list", "a", "", element);
  }
  s.addToList("list", "b", "", ttlValue("4", 800));
  s.addToList("list", "b", "", ttlValue("5", 900));
  s.updateList("list", "c", "", {ttlValue("6", 700), ttlValue("7", 990), ttlValue("8", 999)});
  s.putMap("map", "a", "", "x", ttlValue("old", 800));
  s.putMap("map", "a", "", "y", ttlValue("new", 990));
  s.putMap("map", "b", "", "z", ttlValue("old", 900));

  // What survives: the model without the expired entries.
  KeyedStateModel live = s.model();
  const auto key = [](const std::string& state, const std::string& k) {
    return KeyedStateModel::Key{state, StoreAndModel::group(k), k, ""};
  };
  live.values.erase(key("value", "a"));
  live.lists[key("list", "a")] = {ttlValue("2", 950)};
  live.lists.erase(key("list", "b"));
  live.lists[key("list", "c")] = {ttlValue("7", 990), ttlValue("8", 999)};
  live.maps.erase({"map", StoreAndModel::group("a"), "a", "", "x"});
  live.maps.erase({"map", StoreAndModel::group("b"), "b", "", "z"});
  EXPECT_EQ(entriesOf(store, kAllKeyGroups), live.entries(kAllKeyGroups));

  // The store's reads do not look at times, so they still see every entry ...
  expectReadsMatch(store, s.model(), kAllKeyGroups);
  // ... until a compaction drops the expired ones from disk.
  ASSERT_OK(store.flushAndCompact());
  expectReadsMatch(store, live, kAllKeyGroups);
  std::string value;
  std::vector<std::string> elements;
  EXPECT_FALSE(*store.getValue(v, StoreAndModel::group("a"), "a", "", &value));
  EXPECT_FALSE(*store.getList(l, StoreAndModel::group("b"), "b", "", &elements));
  EXPECT_FALSE(*store.containsMapKey(m, StoreAndModel::group("a"), "a", "", "x"));
  EXPECT_FALSE(*store.containsMapKey(m, StoreAndModel::group("b"), "b", "", "z"));
  EXPECT_EQ(entriesOf(store, kAllKeyGroups), live.entries(kAllKeyGroups));

  // The time-to-live and the clock are read at each compaction: later, more has expired.
  now = 1090;  // expired: 990 and before
  ASSERT_OK(store.addToList(l, StoreAndModel::group("a"), "a", "", ttlValue("9", 1090)));
  ASSERT_OK(store.flushAndCompact());
  ASSERT_TRUE(*store.getList(l, StoreAndModel::group("c"), "c", "", &elements));
  EXPECT_EQ(elements, std::vector<std::string>{ttlValue("8", 999)});
  ASSERT_TRUE(*store.getList(l, StoreAndModel::group("a"), "a", "", &elements));
  EXPECT_EQ(elements, std::vector<std::string>{ttlValue("9", 1090)});
  EXPECT_FALSE(*store.containsMapKey(m, StoreAndModel::group("a"), "a", "", "y"));
  EXPECT_FALSE(*store.getValue(v, StoreAndModel::group("b"), "b", "", &value));
  EXPECT_TRUE(*store.getValue(v, StoreAndModel::group("c"), "c", "", &value));
  // A state without a time-to-live is never filtered, whatever its bytes look like.
  ASSERT_TRUE(
      *store.getValue(*store.findState("plain"), StoreAndModel::group("a"), "a", "", &value));
  EXPECT_EQ(value, ttlValue("no ttl", 0));
}

TEST_F(RocksDbKeyedStoreTest, MemoryStaysWithinTheConfiguredBudget) {
  RocksDbKeyedStore::Options options;
  options.blockCacheBytes = 2 << 20;
  options.writeBufferBytes = 1 << 20;
  auto store = open("db", options);
  StateId v = *store->registerState("v", StateKind::kValue);
  StateId l = *store->registerState("l", StateKind::kList);
  const std::string value(100, 'x');
  int64_t peakMemTables = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    ASSERT_OK(store->putValue(v, keyGroupFor(key, kMaxParallelism), key, "", value));
    ASSERT_OK(store->addToList(l, keyGroupFor(key, kMaxParallelism), key, "", value));
    if (i % 1000 == 0) {
      peakMemTables = std::max(peakMemTables, store->memoryUsage().memTableBytes);
    }
  }
  std::string out;
  for (int i = 0; i < 100000; i += 7) {
    const std::string key = "key-" + std::to_string(i);
    ASSERT_TRUE(*store->getValue(v, keyGroupFor(key, kMaxParallelism), key, "", &out));
  }
  RocksDbKeyedStore::MemoryUsage usage = store->memoryUsage();
  EXPECT_EQ(usage.blockCacheCapacity, (2 << 20) + (1 << 20));
  EXPECT_LE(usage.blockCacheUsage, usage.blockCacheCapacity * 11 / 10);
  // About 24 MB went through memtables limited to 1 MiB together: writes stall at the limit
  // until a flush frees memory (the slack covers one arena block in flight).
  EXPECT_LE(peakMemTables, (1 << 20) * 5 / 4);
  EXPECT_GT(peakMemTables, 0);
}

}  // namespace
}  // namespace brook::state
