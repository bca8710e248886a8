// The runtime's keyed state backends through the typed state API (ValueState<T>, ...), each
// test on both the heap and the RocksDB backend (RocksDB on disk in a temporary folder), and
// snapshots across backends and parallelisms compared entry by entry.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/internal/timer_service.h>
#include <brook/state.h>

#include "common/testing/files.h"
#include "state/internal/rocksdb_keyed_state_backend.h"
#include "state/keyed_state_backend_factory.h"
#include "state/testing/keyed_state_model.h"

namespace brook::state {
namespace {

using ::brook::internal::InternalTimer;
using ::brook::internal::InternalTimerService;
using ::brook::internal::KeyedStateTable;
using ::brook::internal::TimerQueue;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

constexpr int kMaxParallelism = 128;
constexpr KeyGroupRange kAllKeyGroups{0, kMaxParallelism - 1};
constexpr KeyGroupRange kLowerHalf{0, 63};
constexpr KeyGroupRange kUpperHalf{64, 127};
constexpr char kOperator[] = "Count (1/1)";

std::string serialized(const std::string& value) {
  DataOutput out;
  brook::serialize(value, out);
  return std::string(out.view());
}

std::string deserializedString(std::string_view bytes) {
  std::string value;
  brook::internal::decodeInto(bytes, value);
  return value;
}

int keyGroupOf(const std::string& key) {
  return keyGroupFor(serialized(key), kMaxParallelism);
}

/// `count` keys ("key-<i>") whose key groups lie in `range`.
std::vector<std::string> keysIn(KeyGroupRange range, int count) {
  std::vector<std::string> keys;
  for (int i = 0; static_cast<int>(keys.size()) < count; ++i) {
    std::string key = "key-" + std::to_string(i);
    if (range.contains(keyGroupOf(key))) {
      keys.push_back(key);
    }
  }
  return keys;
}

/// A key whose key group is outside `range`.
std::string keyOutside(KeyGroupRange range) {
  for (int i = 0;; ++i) {
    std::string key = "other-" + std::to_string(i);
    if (!range.contains(keyGroupOf(key))) {
      return key;
    }
  }
}

/// Calls `f` and expects a StateException whose message contains every one of `parts`.
template <typename F>
void expectStateException(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a StateException";
  } catch (const StateException& e) {
    for (const std::string& part : parts) {
      EXPECT_THAT(e.what(), HasSubstr(part));
    }
  }
}

class AverageFunction final
    : public AggregateFunction<int64_t, std::pair<int64_t, int64_t>, double> {
 public:
  std::pair<int64_t, int64_t> createAccumulator() const override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const int64_t& value,
                                  std::pair<int64_t, int64_t> accumulator) const override {
    accumulator.first += value;
    accumulator.second += 1;
    return accumulator;
  }
  double getResult(const std::pair<int64_t, int64_t>& accumulator) const override {
    return static_cast<double>(accumulator.first) / static_cast<double>(accumulator.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                    const std::pair<int64_t, int64_t>& b) const override {
    return {a.first + b.first, a.second + b.second};
  }
};

int64_t plus(const int64_t& a, const int64_t& b) {
  return a + b;
}

/// A fired timer: the key (deserialized), its time, its namespace and domain.
using FiredTimer = std::tuple<std::string, int64_t, std::string, TimeDomain>;

/// Every kind of state an operator may have, registered on one backend through its
/// RuntimeContext, plus its timer service.
struct OperatorStates {
  explicit OperatorStates(RuntimeKeyedStateBackend& backend) : backend(backend) {
    context.operatorName = "Count";
    context.keyedStateBackend = &backend;
    count = &context.getState(ValueStateDescriptor<int64_t>("count"));
    events = &context.getListState(ListStateDescriptor<std::string>("events"));
    seen = &context.getMapState(MapStateDescriptor<std::string, int64_t>("seen"));
    sum = &context.getReducingState(ReducingStateDescriptor<int64_t>("sum", plus));
    average = &context.getAggregatingState(
        AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>(
            "average", AverageFunction()));
    ValueStateDescriptor<std::string> ttlDescriptor("ttl");
    ttlDescriptor.enableTimeToLive(StateTtlConfig::of(1h));
    ttl = &context.getState(ttlDescriptor);
    timers = std::make_unique<InternalTimerService>(
        &backend, nullptr, [this](const InternalTimer& timer, TimeDomain domain) {
          EXPECT_EQ(this->backend.currentKey(), timer.key);
          fired.emplace_back(deserializedString(timer.key), timer.timestamp, timer.stateNamespace,
                             domain);
        });
  }

  void setKey(const std::string& key) { backend.setCurrentKey(serialized(key)); }

  /// Writes state for each key, distinct per key.
  void populate(const std::vector<std::string>& keys) {
    KeyedStateTable* countTable = backend.findTable("count");
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto n = static_cast<int64_t>(i);
      setKey(keys[i]);
      count->update(n);
      countTable->setCurrentNamespace(serialized("window"));
      count->update(1000 + n);
      countTable->setCurrentNamespace("");
      events->add("a" + keys[i]);
      events->addAll({"b" + keys[i], "c"});
      seen->put("x", n);
      seen->put("y", 2 * n);
      sum->add(n);
      sum->add(1);
      average->add(n);
      average->add(n + 2);
      ttl->update("t" + keys[i]);
      timers->registerEventTimeTimer(100 + n);
      timers->setCurrentNamespace(serialized("window"));
      timers->registerEventTimeTimer(100 + n);
      timers->setCurrentNamespace("");
      timers->registerProcessingTimeTimer(5000 - n);
    }
  }

  /// Checks what `populate(keys)` wrote, through the API.
  void verify(const std::vector<std::string>& keys) {
    KeyedStateTable* countTable = backend.findTable("count");
    for (size_t i = 0; i < keys.size(); ++i) {
      SCOPED_TRACE(keys[i]);
      const auto n = static_cast<int64_t>(i);
      setKey(keys[i]);
      EXPECT_EQ(count->value(), n);
      countTable->setCurrentNamespace(serialized("window"));
      EXPECT_EQ(count->value(), 1000 + n);
      countTable->setCurrentNamespace("");
      EXPECT_THAT(events->get(), ElementsAre("a" + keys[i], "b" + keys[i], "c"));
      EXPECT_THAT(seen->entries(), UnorderedElementsAre(Pair("x", n), Pair("y", 2 * n)));
      EXPECT_EQ(sum->get(), n + 1);
      EXPECT_EQ(average->get(), static_cast<double>(n + 1));
      EXPECT_EQ(ttl->value(), "t" + keys[i]);
    }
    EXPECT_EQ(timers->numberOfEventTimeTimers(), 2 * keys.size());
    EXPECT_EQ(timers->numberOfProcessingTimeTimers(), keys.size());
  }

  RuntimeKeyedStateBackend& backend;
  RuntimeContext context;
  ValueState<int64_t>* count = nullptr;
  ListState<std::string>* events = nullptr;
  MapState<std::string, int64_t>* seen = nullptr;
  ReducingState<int64_t>* sum = nullptr;
  AggregatingState<int64_t, double>* average = nullptr;
  ValueState<std::string>* ttl = nullptr;
  std::vector<FiredTimer> fired;
  std::unique_ptr<InternalTimerService> timers;
};

StateBackendType otherType(StateBackendType type) {
  return type == StateBackendType::kHeap ? StateBackendType::kRocksDb : StateBackendType::kHeap;
}

class KeyedStateBackendTest : public ::testing::TestWithParam<StateBackendType> {
 protected:
  /// A backend of `type` (the test's parameter by default) for `range`, on the test's clock.
  std::unique_ptr<RuntimeKeyedStateBackend> create(
      KeyGroupRange range = kAllKeyGroups, std::optional<StateBackendType> type = std::nullopt) {
    auto backend = createKeyedStateBackend(options(range, type.value_or(GetParam())));
    if (!backend.ok()) {
      throw std::runtime_error(backend.status().ToString());
    }
    return std::move(*backend);
  }

  KeyedStateBackendOptions options(KeyGroupRange range, StateBackendType type) {
    KeyedStateBackendOptions options;
    options.type = type;
    options.operatorDescription = kOperator;
    options.maxParallelism = kMaxParallelism;
    options.keyGroupRange = range;
    options.rocksDbDirectory = (dir_.path() / ("rocksdb-" + std::to_string(next_++))).string();
    options.rocksDb.blockCacheBytes = 1 << 20;
    options.rocksDb.writeBufferBytes = 1 << 20;
    options.clock = [this] {
      return now_.load();
    };
    return options;
  }

  /// Runs both phases of a snapshot of `range` and returns its bytes.
  static std::string snapshotBytes(RuntimeKeyedStateBackend& backend,
                                   KeyGroupRange range = kAllKeyGroups) {
    auto snapshot = backend.snapshot(range);
    if (!snapshot.ok()) {
      throw std::runtime_error(snapshot.status().ToString());
    }
    return write(**snapshot, range);
  }

  static std::string write(KeyedStateSnapshot& snapshot, KeyGroupRange range) {
    std::ostringstream out;
    auto writer = KeyedStateSnapshotWriter::create(out, "test.snapshot", kMaxParallelism, range);
    EXPECT_TRUE(writer.ok()) << writer.status();
    absl::Status s = snapshot.write(*writer);
    EXPECT_TRUE(s.ok()) << s;
    s = writer->finish();
    EXPECT_TRUE(s.ok()) << s;
    return out.str();
  }

  static absl::Status restore(RuntimeKeyedStateBackend& backend,
                              const std::string& bytes,
                              const std::string& name = "checkpoint-1") {
    std::istringstream in(bytes);
    auto reader = KeyedStateSnapshotReader::open(in, name);
    if (!reader.ok()) {
      return reader.status();
    }
    return backend.restore(*reader);
  }

  static std::vector<ModelEntry> entriesOf(const std::string& bytes,
                                           KeyGroupRange range = kAllKeyGroups) {
    std::istringstream in(bytes);
    auto reader = KeyedStateSnapshotReader::open(in, "test.snapshot");
    EXPECT_TRUE(reader.ok()) << reader.status();
    auto entries = KeyedStateModel::read(*reader, range);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<ModelEntry>{};
  }

  /// The bytes of a snapshot holding what `model` holds.
  static std::string modelBytes(const KeyedStateModel& model, KeyGroupRange range = kAllKeyGroups) {
    std::ostringstream out;
    auto writer = KeyedStateSnapshotWriter::create(out, "model.snapshot", kMaxParallelism, range);
    EXPECT_TRUE(writer.ok()) << writer.status();
    absl::Status s = model.write(*writer, range);
    EXPECT_TRUE(s.ok()) << s;
    s = writer->finish();
    EXPECT_TRUE(s.ok()) << s;
    return out.str();
  }

  static RuntimeContext contextOf(RuntimeKeyedStateBackend& backend) {
    RuntimeContext context;
    context.operatorName = "Count";
    context.keyedStateBackend = &backend;
    return context;
  }

  static void setKey(RuntimeKeyedStateBackend& backend, const std::string& key) {
    backend.setCurrentKey(serialized(key));
  }

  testing::TempDir dir_{"brook-keyed-state-backend"};
  int next_ = 0;
  // Atomic: RocksDB's compaction threads read the clock too.
  std::atomic<int64_t> now_{1'000'000};
};

INSTANTIATE_TEST_SUITE_P(Backends,
                         KeyedStateBackendTest,
                         ::testing::Values(StateBackendType::kHeap, StateBackendType::kRocksDb),
                         [](const ::testing::TestParamInfo<StateBackendType>& info) {
                           return std::string(stateBackendTypeName(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Configuration

TEST(StateBackendTypeTest, ParsesTheNamesInAnyCase) {
  EXPECT_EQ(*parseStateBackendType("heap"), StateBackendType::kHeap);
  EXPECT_EQ(*parseStateBackendType("HashMap"), StateBackendType::kHeap);
  EXPECT_EQ(*parseStateBackendType("rocksdb"), StateBackendType::kRocksDb);
  EXPECT_EQ(*parseStateBackendType("RocksDB"), StateBackendType::kRocksDb);
  EXPECT_STREQ(stateBackendTypeName(StateBackendType::kHeap), "heap");
  EXPECT_STREQ(stateBackendTypeName(StateBackendType::kRocksDb), "rocksdb");

  auto bad = parseStateBackendType("memory");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("state.backend.type"));
  EXPECT_THAT(bad.status().message(), HasSubstr("heap, hashmap or rocksdb"));
  EXPECT_THAT(bad.status().message(), HasSubstr("memory"));
}

TEST(KeyedStateBackendFactoryTest, ARocksDbDirectoryThatCannotBeCreatedFailsWithItsPath) {
  testing::TempDir dir("brook-keyed-state-backend");
  testing::writeFile(dir.path() / "file", "not a directory");
  KeyedStateBackendOptions options;
  options.type = StateBackendType::kRocksDb;
  options.operatorDescription = kOperator;
  options.keyGroupRange = kAllKeyGroups;
  options.rocksDbDirectory = (dir.path() / "file" / "rocksdb").string();
  auto backend = createKeyedStateBackend(options);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr(options.rocksDbDirectory));

  // Nor one that holds files already.
  options.rocksDbDirectory = dir.path().string();
  backend = createKeyedStateBackend(options);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr(options.rocksDbDirectory));
}

TEST(KeyedStateBackendFactoryTest, RejectsOptionsThatDoNotFit) {
  KeyedStateBackendOptions options;
  options.operatorDescription = kOperator;
  options.maxParallelism = 0;
  options.keyGroupRange = kAllKeyGroups;
  EXPECT_EQ(createKeyedStateBackend(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.maxParallelism = 64;
  EXPECT_EQ(createKeyedStateBackend(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.maxParallelism = 128;
  options.type = StateBackendType::kRocksDb;
  EXPECT_EQ(createKeyedStateBackend(options).status().code(),
            absl::StatusCode::kInvalidArgument);  // no directory
}

TEST(KeyedStateBackendFactoryTest, TheRocksDbDirectoryIsRemovedWithTheBackend) {
  testing::TempDir dir("brook-keyed-state-backend");
  KeyedStateBackendOptions options;
  options.type = StateBackendType::kRocksDb;
  options.operatorDescription = kOperator;
  options.keyGroupRange = kAllKeyGroups;
  options.rocksDbDirectory = (dir.path() / "a" / "rocksdb").string();
  auto backend = createKeyedStateBackend(options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->type(), StateBackendType::kRocksDb);
  EXPECT_TRUE(std::filesystem::is_directory(options.rocksDbDirectory));
  backend->reset();
  EXPECT_FALSE(std::filesystem::exists(options.rocksDbDirectory));
}

TEST(KeyedStateBackendFactoryTest, TheClockIsTheSystemClockByDefault) {
  KeyedStateBackendOptions options;
  options.keyGroupRange = kAllKeyGroups;
  auto backend = createKeyedStateBackend(options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>((*backend)->currentTimeMillis()), static_cast<double>(now),
              60'000.0);
  options.clock = [] {
    return int64_t{42};
  };
  backend = createKeyedStateBackend(options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->currentTimeMillis(), 42);
}

// ---------------------------------------------------------------------------------------------
// The typed state API

TEST_P(KeyedStateBackendTest, ValueStateWithAndWithoutADefault) {
  auto backend = create();
  EXPECT_EQ(backend->type(), GetParam());
  RuntimeContext context = contextOf(*backend);
  ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
  ValueState<std::string>& name =
      context.getState(ValueStateDescriptor<std::string>("name", "nobody"));

  setKey(*backend, "a");
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_EQ(name.value(), "nobody");
  count.update(5);
  name.update("alice");
  setKey(*backend, "b");
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_EQ(name.value(), "nobody");
  count.update(7);
  setKey(*backend, "a");
  EXPECT_EQ(count.value(), 5);
  EXPECT_EQ(name.value(), "alice");
  count.update(6);
  EXPECT_EQ(count.value(), 6);
  count.clear();
  name.clear();
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_EQ(name.value(), "nobody");
  setKey(*backend, "b");
  EXPECT_EQ(count.value(), 7);
  EXPECT_EQ(&count, &context.getState(ValueStateDescriptor<int64_t>("count")));
}

TEST_P(KeyedStateBackendTest, ListState) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ListState<std::string>& list = context.getListState(ListStateDescriptor<std::string>("events"));

  setKey(*backend, "a");
  EXPECT_TRUE(list.get().empty());
  list.add("x");
  list.addAll({"y", "z"});
  list.addAll({});
  EXPECT_THAT(list.get(), ElementsAre("x", "y", "z"));
  setKey(*backend, "b");
  EXPECT_TRUE(list.get().empty());
  list.add("other");
  setKey(*backend, "a");
  list.update({"q", "r"});
  EXPECT_THAT(list.get(), ElementsAre("q", "r"));
  list.update({});
  EXPECT_TRUE(list.get().empty());
  list.add("s");
  list.clear();
  EXPECT_TRUE(list.get().empty());
  setKey(*backend, "b");
  EXPECT_THAT(list.get(), ElementsAre("other"));
}

TEST_P(KeyedStateBackendTest, MapState) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  MapState<std::string, int64_t>& map =
      context.getMapState(MapStateDescriptor<std::string, int64_t>("seen"));

  setKey(*backend, "a");
  EXPECT_TRUE(map.isEmpty());
  EXPECT_EQ(map.get("x"), std::nullopt);
  EXPECT_FALSE(map.contains("x"));
  map.put("x", 1);
  map.put("y", 2);
  map.put("x", 3);
  EXPECT_FALSE(map.isEmpty());
  EXPECT_EQ(map.get("x"), 3);
  EXPECT_TRUE(map.contains("y"));
  EXPECT_THAT(map.entries(), UnorderedElementsAre(Pair("x", 3), Pair("y", 2)));
  map.remove("x");
  map.remove("never");
  EXPECT_FALSE(map.contains("x"));
  EXPECT_THAT(map.entries(), ElementsAre(Pair("y", 2)));

  setKey(*backend, "b");
  EXPECT_TRUE(map.isEmpty());
  map.put("z", 9);
  setKey(*backend, "a");
  map.clear();
  EXPECT_TRUE(map.isEmpty());
  EXPECT_TRUE(map.entries().empty());
  setKey(*backend, "b");
  EXPECT_THAT(map.entries(), ElementsAre(Pair("z", 9)));
}

TEST_P(KeyedStateBackendTest, ReducingState) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ReducingState<int64_t>& sum =
      context.getReducingState(ReducingStateDescriptor<int64_t>("sum", plus));

  setKey(*backend, "a");
  EXPECT_EQ(sum.get(), std::nullopt);
  sum.add(3);
  sum.add(4);
  EXPECT_EQ(sum.get(), 7);
  setKey(*backend, "b");
  EXPECT_EQ(sum.get(), std::nullopt);
  sum.add(1);
  setKey(*backend, "a");
  sum.clear();
  EXPECT_EQ(sum.get(), std::nullopt);
  setKey(*backend, "b");
  EXPECT_EQ(sum.get(), 1);
}

TEST_P(KeyedStateBackendTest, AggregatingState) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  AggregatingState<int64_t, double>& average = context.getAggregatingState(
      AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>("average",
                                                                               AverageFunction()));

  setKey(*backend, "a");
  EXPECT_EQ(average.get(), std::nullopt);
  average.add(2);
  average.add(5);
  EXPECT_EQ(average.get(), 3.5);
  setKey(*backend, "b");
  EXPECT_EQ(average.get(), std::nullopt);
  average.add(10);
  EXPECT_EQ(average.get(), 10.0);
  setKey(*backend, "a");
  average.clear();
  EXPECT_EQ(average.get(), std::nullopt);
}

// The window operator registers a window's timers only with its first element: an add to
// reducing or aggregating state tells, through its table, whether the entry was there before.
TEST_P(KeyedStateBackendTest, AnAddTellsWhetherTheEntryOfTheKeyAndNamespaceExisted) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ReducingState<int64_t>& sum =
      context.getReducingState(ReducingStateDescriptor<int64_t>("sum", plus));
  KeyedStateTable* table = backend->findTable("sum");
  ASSERT_NE(table, nullptr);
  using LastRead = KeyedStateTable::LastRead;
  const auto add = [&](int64_t value) {
    table->forgetLastRead();
    sum.add(value);
    return table->lastRead();
  };

  setKey(*backend, "a");
  table->setCurrentNamespace(serialized("window-1"));
  EXPECT_EQ(add(1), LastRead::kAbsent);
  EXPECT_EQ(add(2), LastRead::kFound);
  table->setCurrentNamespace(serialized("window-2"));
  EXPECT_EQ(add(5), LastRead::kAbsent);
  EXPECT_EQ(add(6), LastRead::kFound);
  setKey(*backend, "b");  // same namespace, another key
  EXPECT_EQ(add(7), LastRead::kAbsent);
  setKey(*backend, "a");
  EXPECT_EQ(add(10), LastRead::kFound);
  setKey(*backend, "a");  // the same key set again
  EXPECT_EQ(add(100), LastRead::kFound);
  EXPECT_EQ(sum.get(), 121);
  table->setCurrentNamespace(serialized("window-1"));
  EXPECT_EQ(sum.get(), 3);
  sum.clear();
  EXPECT_EQ(table->lastRead(), LastRead::kNone);
  EXPECT_EQ(add(4), LastRead::kAbsent);
  EXPECT_EQ(sum.get(), 4);
  setKey(*backend, "b");
  table->setCurrentNamespace(serialized("window-2"));
  EXPECT_EQ(sum.get(), 7);
  table->setCurrentNamespace(serialized("window-1"));
  EXPECT_EQ(sum.get(), std::nullopt);
  EXPECT_EQ(table->lastRead(), LastRead::kAbsent);
}

// The window operator prefetches the entries of an element's windows before it adds to them: a
// hint that changes no entry and no last-read flag, whether or not the entry, its key group's
// map or a current key exist.
TEST_P(KeyedStateBackendTest, APrefetchChangesNothing) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ReducingState<int64_t>& sum =
      context.getReducingState(ReducingStateDescriptor<int64_t>("sum", plus));
  KeyedStateTable* table = backend->findTable("sum");
  ASSERT_NE(table, nullptr);
  using LastRead = KeyedStateTable::LastRead;

  table->prefetchInNamespace(serialized("window-1"));  // no current key
  setKey(*backend, "a");
  table->prefetchInNamespace(serialized("window-1"));  // nothing stored yet
  table->setCurrentNamespace(serialized("window-1"));
  table->forgetLastRead();
  sum.add(1);
  EXPECT_EQ(table->lastRead(), LastRead::kAbsent);
  table->prefetchInNamespace(serialized("window-1"));  // the current entry
  table->prefetchInNamespace(serialized("window-2"));  // an absent one
  EXPECT_EQ(table->lastRead(), LastRead::kAbsent);
  table->forgetLastRead();
  sum.add(2);
  EXPECT_EQ(table->lastRead(), LastRead::kFound);
  EXPECT_EQ(sum.get(), 3);

  // Many keys and windows, each prefetched before it is added to: the sums are the adds'.
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 200);
  for (int round = 0; round < 3; ++round) {
    for (const std::string& key : keys) {
      setKey(*backend, key);
      for (int w = 0; w < 5; ++w)
        table->prefetchInNamespace(serialized("w" + std::to_string(w)));
      for (int w = 0; w < 5; ++w) {
        table->setCurrentNamespace(serialized("w" + std::to_string(w)));
        sum.add(w + 1);
      }
    }
  }
  for (const std::string& key : keys) {
    setKey(*backend, key);
    for (int w = 0; w < 5; ++w) {
      table->setCurrentNamespace(serialized("w" + std::to_string(w)));
      table->prefetchInNamespace(serialized("w" + std::to_string(w)));
      EXPECT_EQ(sum.get(), 3 * (w + 1)) << key << " w" << w;
    }
  }
  setKey(*backend, "a");
  table->setCurrentNamespace(serialized("window-1"));
  EXPECT_EQ(sum.get(), 3);
}

TEST_P(KeyedStateBackendTest, NamespacesKeepEntriesApart) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
  ListState<int64_t>& list = context.getListState(ListStateDescriptor<int64_t>("list"));
  MapState<std::string, int64_t>& map =
      context.getMapState(MapStateDescriptor<std::string, int64_t>("map"));
  KeyedStateTable* countTable = backend->findTable("count");
  KeyedStateTable* listTable = backend->findTable("list");
  KeyedStateTable* mapTable = backend->findTable("map");
  ASSERT_NE(countTable, nullptr);
  ASSERT_NE(listTable, nullptr);
  ASSERT_NE(mapTable, nullptr);
  EXPECT_EQ(backend->findTable("missing"), nullptr);
  auto setNamespace = [&](const std::string& ns) {
    const std::string bytes = ns.empty() ? "" : serialized(ns);
    countTable->setCurrentNamespace(bytes);
    listTable->setCurrentNamespace(bytes);
    mapTable->setCurrentNamespace(bytes);
  };

  setKey(*backend, "a");
  count.update(1);
  list.add(1);
  map.put("k", 1);
  setNamespace("window-1");
  EXPECT_EQ(count.value(), std::nullopt);
  EXPECT_TRUE(list.get().empty());
  EXPECT_TRUE(map.isEmpty());
  count.update(2);
  list.add(2);
  map.put("k", 2);
  setNamespace("window-2");
  count.update(3);
  setNamespace("window-1");
  EXPECT_EQ(count.value(), 2);
  EXPECT_THAT(list.get(), ElementsAre(2));
  EXPECT_EQ(map.get("k"), 2);
  count.clear();
  setNamespace("");
  EXPECT_EQ(count.value(), 1);
  EXPECT_THAT(list.get(), ElementsAre(1));
  EXPECT_EQ(map.get("k"), 1);

  // Namespaces survive a snapshot into either backend.
  const std::string bytes = snapshotBytes(*backend);
  for (StateBackendType type : {StateBackendType::kHeap, StateBackendType::kRocksDb}) {
    auto restored = create(kAllKeyGroups, type);
    ASSERT_TRUE(restore(*restored, bytes).ok());
    RuntimeContext restoredContext = contextOf(*restored);
    ValueState<int64_t>& restoredCount =
        restoredContext.getState(ValueStateDescriptor<int64_t>("count"));
    setKey(*restored, "a");
    EXPECT_EQ(restoredCount.value(), 1);
    restored->findTable("count")->setCurrentNamespace(serialized("window-2"));
    EXPECT_EQ(restoredCount.value(), 3);
    restored->findTable("count")->setCurrentNamespace(serialized("window-1"));
    EXPECT_EQ(restoredCount.value(), std::nullopt);
  }
}

// ---------------------------------------------------------------------------------------------
// Time-to-live

TEST_P(KeyedStateBackendTest, EntriesExpireAfterTheirTimeToLive) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  const StateTtlConfig ttl = StateTtlConfig::of(100ms);
  ValueStateDescriptor<std::string> valueDescriptor("value");
  valueDescriptor.enableTimeToLive(ttl);
  ListStateDescriptor<int64_t> listDescriptor("list");
  listDescriptor.enableTimeToLive(ttl);
  MapStateDescriptor<std::string, int64_t> mapDescriptor("map");
  mapDescriptor.enableTimeToLive(ttl);
  ReducingStateDescriptor<int64_t> reducingDescriptor("sum", plus);
  reducingDescriptor.enableTimeToLive(ttl);
  ValueState<std::string>& value = context.getState(valueDescriptor);
  ListState<int64_t>& list = context.getListState(listDescriptor);
  MapState<std::string, int64_t>& map = context.getMapState(mapDescriptor);
  ReducingState<int64_t>& sum = context.getReducingState(reducingDescriptor);

  setKey(*backend, "a");
  value.update("x");
  list.add(1);
  map.put("k", 1);
  sum.add(5);
  now_ += 50;
  list.add(2);  // each element has its own time to live
  map.put("later", 2);
  sum.add(1);  // a write restarts the reduced value's time to live

  now_ += 49;  // 99 ms after the first writes
  EXPECT_EQ(value.value(), "x");
  EXPECT_THAT(list.get(), ElementsAre(1, 2));
  EXPECT_EQ(map.get("k"), 1);
  EXPECT_EQ(sum.get(), 6);

  now_ += 1;  // 100 ms: the first writes have expired
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_THAT(list.get(), ElementsAre(2));
  EXPECT_EQ(map.get("k"), std::nullopt);
  EXPECT_FALSE(map.contains("k"));
  EXPECT_THAT(map.entries(), ElementsAre(Pair("later", 2)));
  EXPECT_EQ(sum.get(), 6);

  now_ += 50;  // and now the later ones
  EXPECT_TRUE(list.get().empty());
  EXPECT_TRUE(map.isEmpty());
  EXPECT_EQ(sum.get(), std::nullopt);
}

TEST_P(KeyedStateBackendTest, ReadsExtendTheTimeToLiveWithOnReadAndWrite) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  const StateTtlConfig ttl = StateTtlConfig::of(100ms, StateTtlConfig::UpdateType::kOnReadAndWrite);
  ValueStateDescriptor<std::string> valueDescriptor("value");
  valueDescriptor.enableTimeToLive(ttl);
  MapStateDescriptor<std::string, int64_t> mapDescriptor("map");
  mapDescriptor.enableTimeToLive(ttl);
  ListStateDescriptor<int64_t> listDescriptor("list");
  listDescriptor.enableTimeToLive(ttl);
  ValueState<std::string>& value = context.getState(valueDescriptor);
  MapState<std::string, int64_t>& map = context.getMapState(mapDescriptor);
  ListState<int64_t>& list = context.getListState(listDescriptor);

  setKey(*backend, "a");
  value.update("x");
  map.put("k", 1);
  list.add(7);
  for (int i = 0; i < 3; ++i) {
    now_ += 90;  // past the time to live of the write, but not of the last read
    EXPECT_EQ(value.value(), "x");
    EXPECT_EQ(map.get("k"), 1);
    EXPECT_THAT(list.get(), ElementsAre(7));
  }
  now_ += 100;
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_EQ(map.get("k"), std::nullopt);
  EXPECT_TRUE(list.get().empty());
}

TEST_P(KeyedStateBackendTest, TimeToLiveSurvivesASnapshot) {
  auto backend = create();
  ValueStateDescriptor<std::string> descriptor("value");
  descriptor.enableTimeToLive(StateTtlConfig::of(100ms));
  {
    RuntimeContext context = contextOf(*backend);
    ValueState<std::string>& value = context.getState(descriptor);
    setKey(*backend, "a");
    value.update("x");
  }
  const std::string bytes = snapshotBytes(*backend);
  for (StateBackendType type : {StateBackendType::kHeap, StateBackendType::kRocksDb}) {
    now_ = 1'000'000;
    auto restored = create(kAllKeyGroups, type);
    ASSERT_TRUE(restore(*restored, bytes).ok());
    RuntimeContext context = contextOf(*restored);
    ValueState<std::string>& value = context.getState(descriptor);
    setKey(*restored, "a");
    now_ += 99;
    EXPECT_EQ(value.value(), "x");
    now_ += 1;
    EXPECT_EQ(value.value(), std::nullopt);
  }
}

/// The entries of `state` among `entries`.
std::vector<ModelEntry> entriesOfState(const std::vector<ModelEntry>& entries,
                                       const std::string& state) {
  std::vector<ModelEntry> result;
  for (const ModelEntry& e : entries) {
    if (e.state == state) {
      result.push_back(e);
    }
  }
  return result;
}

/// The states with a time-to-live of 100 ms that the expiry tests use, and one without.
struct ExpiringStates {
  explicit ExpiringStates(RuntimeContext& context) {
    const StateTtlConfig ttl = StateTtlConfig::of(100ms);
    ValueStateDescriptor<std::string> valueDescriptor("value");
    valueDescriptor.enableTimeToLive(ttl);
    ListStateDescriptor<int64_t> listDescriptor("list");
    listDescriptor.enableTimeToLive(ttl);
    MapStateDescriptor<std::string, int64_t> mapDescriptor("map");
    mapDescriptor.enableTimeToLive(ttl);
    value = &context.getState(valueDescriptor);
    list = &context.getListState(listDescriptor);
    map = &context.getMapState(mapDescriptor);
    plain = &context.getState(ValueStateDescriptor<std::string>("plain"));
  }

  ValueState<std::string>* value;
  ListState<int64_t>* list;
  MapState<std::string, int64_t>* map;
  ValueState<std::string>* plain;
};

TEST_P(KeyedStateBackendTest, SnapshotsLeaveOutExpiredEntries) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ExpiringStates states(context);

  // At t0: key a's value, list element 1 and map entry "old"; key b's value; key c's whole list.
  setKey(*backend, "a");
  states.value->update("a");
  states.list->add(1);
  states.map->put("old", 1);
  states.plain->update("a");
  setKey(*backend, "b");
  states.value->update("b");
  setKey(*backend, "c");
  states.list->addAll({3, 4});
  // At t0 + 60: key b's value again, key a's list element 2 and map entry "new".
  now_ += 60;
  setKey(*backend, "b");
  states.value->update("b2");
  setKey(*backend, "a");
  states.list->add(2);
  states.map->put("new", 2);

  const std::vector<ModelEntry> before = entriesOf(snapshotBytes(*backend));
  EXPECT_EQ(entriesOfState(before, "value").size(), 2u);
  EXPECT_EQ(entriesOfState(before, "list").size(), 2u);
  EXPECT_EQ(entriesOfState(before, "map").size(), 2u);

  // At t0 + 100, what was written at t0 has expired: it is absent from the snapshot, though no
  // access has removed it.
  now_ += 40;
  const std::vector<ModelEntry> after = entriesOf(snapshotBytes(*backend));
  const std::vector<ModelEntry> values = entriesOfState(after, "value");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].key, serialized("b"));
  const std::vector<ModelEntry> lists = entriesOfState(after, "list");
  ASSERT_EQ(lists.size(), 1u);  // key c's list had no element left
  EXPECT_EQ(lists[0].key, serialized("a"));
  EXPECT_EQ(lists[0].elements.size(), 1u);  // element 2
  const std::vector<ModelEntry> maps = entriesOfState(after, "map");
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0].userKey, serialized("new"));
  EXPECT_EQ(entriesOfState(after, "plain"), entriesOfState(before, "plain"));

  // A backend restored from it has the live entries only.
  auto restored = create(kAllKeyGroups, otherType(GetParam()));
  ASSERT_TRUE(restore(*restored, snapshotBytes(*backend)).ok());
  RuntimeContext restoredContext = contextOf(*restored);
  ExpiringStates restoredStates(restoredContext);
  setKey(*restored, "a");
  EXPECT_THAT(restoredStates.list->get(), ElementsAre(2));
  EXPECT_THAT(restoredStates.map->entries(), ElementsAre(Pair("new", 2)));
  setKey(*restored, "b");
  EXPECT_EQ(restoredStates.value->value(), "b2");

  // At t0 + 160, everything with a time-to-live has expired.
  now_ += 60;
  const std::vector<ModelEntry> last = entriesOf(snapshotBytes(*backend));
  EXPECT_EQ(last, entriesOfState(before, "plain"));
}

TEST_P(KeyedStateBackendTest, CompactionDropsExpiredEntriesFromRocksDb) {
  auto backend = create();
  auto* rocksDb = dynamic_cast<internal::RocksDbKeyedStateBackend*>(backend.get());
  if (rocksDb == nullptr) {
    GTEST_SKIP() << "RocksDB only";
  }
  RuntimeContext context = contextOf(*backend);
  ExpiringStates states(context);
  setKey(*backend, "a");
  states.value->update("a");
  states.list->add(1);
  states.map->put("old", 1);
  states.plain->update("a");
  now_ += 60;
  states.list->add(2);
  states.map->put("new", 2);
  now_ += 40;  // the writes of t0 have expired

  // The store's own reads see what is on disk, whatever the times.
  brook::internal::KeyedBytesStore& store = *backend->store();
  const int value = store.registerState("value", brook::internal::StateShape::kValue);
  const int list = store.registerState("list", brook::internal::StateShape::kList);
  const int map = store.registerState("map", brook::internal::StateShape::kMap);
  const int plain = store.registerState("plain", brook::internal::StateShape::kValue);
  const int group = keyGroupOf("a");
  const std::string key = serialized("a");
  std::string bytes;
  std::vector<std::string> elements;
  EXPECT_TRUE(store.getValue(value, group, key, "", &bytes));
  ASSERT_TRUE(store.getList(list, group, key, "", &elements));
  EXPECT_EQ(elements.size(), 2u);
  EXPECT_TRUE(store.containsMapKey(map, group, key, "", serialized("old")));

  ASSERT_TRUE(rocksDb->rocksDbStore().flushAndCompact().ok());
  EXPECT_FALSE(store.getValue(value, group, key, "", &bytes));
  ASSERT_TRUE(store.getList(list, group, key, "", &elements));
  EXPECT_EQ(elements.size(), 1u);
  EXPECT_FALSE(store.containsMapKey(map, group, key, "", serialized("old")));
  EXPECT_TRUE(store.containsMapKey(map, group, key, "", serialized("new")));
  EXPECT_TRUE(store.getValue(plain, group, key, "", &bytes));
  EXPECT_THAT(states.list->get(), ElementsAre(2));
  EXPECT_EQ(states.plain->value(), "a");
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_P(KeyedStateBackendTest, StateWithoutACurrentKeyNamesTheStateAndOperator) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
  ListState<int64_t>& list = context.getListState(ListStateDescriptor<int64_t>("list"));
  MapState<std::string, int64_t>& map =
      context.getMapState(MapStateDescriptor<std::string, int64_t>("map"));
  EXPECT_FALSE(backend->hasCurrentKey());
  expectStateException([&] { count.value(); }, {"'count'", kOperator, "current key"});
  expectStateException([&] { list.add(1); }, {"'list'", kOperator, "current key"});
  expectStateException([&] { map.get("x"); }, {"'map'", kOperator, "current key"});
}

TEST_P(KeyedStateBackendTest, ANameUsedWithAnotherTypeNamesTheState) {
  auto backend = create();
  RuntimeContext context = contextOf(*backend);
  context.getState(ValueStateDescriptor<int64_t>("count"));
  expectStateException([&] { context.getListState(ListStateDescriptor<int64_t>("count")); },
                       {"'count'", kOperator});
  expectStateException([&] { context.getState(ValueStateDescriptor<std::string>("count")); },
                       {"'count'", kOperator});
}

TEST_P(KeyedStateBackendTest, AKeyOfAnotherSubtaskNamesTheOperator) {
  auto backend = create(kLowerHalf);
  RuntimeContext context = contextOf(*backend);
  ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
  const std::string mine = keysIn(kLowerHalf, 1)[0];
  const std::string other = keyOutside(kLowerHalf);
  setKey(*backend, mine);
  count.update(1);
  expectStateException([&] { setKey(*backend, other); },
                       {kOperator, "key group " + std::to_string(keyGroupOf(other)), "[0, 63]"});
  // The current key is unchanged.
  EXPECT_EQ(backend->currentKey(), serialized(mine));
  EXPECT_EQ(count.value(), 1);
}

TEST_P(KeyedStateBackendTest, CorruptStoredBytesNameTheStateAndOperator) {
  KeyedStateModel model;
  model.kinds["count"] = StateKind::kValue;
  model.values[{"count", keyGroupOf("a"), serialized("a"), ""}] = "\x01";  // not 8 bytes
  model.values[{"count", keyGroupOf("b"), serialized("b"), ""}] = std::string(8, '\0');
  const std::string bytes = modelBytes(model);

  // Restored before the state is registered: the heap backend decodes at registration, the
  // RocksDB backend on access.
  {
    auto backend = create();
    ASSERT_TRUE(restore(*backend, bytes, "checkpoint-7").ok());
    RuntimeContext context = contextOf(*backend);
    expectStateException(
        [&] {
          ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
          setKey(*backend, "a");
          count.value();
        },
        {"'count'", kOperator});
  }
  // Restored into a registered state.
  {
    auto backend = create();
    RuntimeContext context = contextOf(*backend);
    ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
    absl::Status s = restore(*backend, bytes, "checkpoint-7");
    if (GetParam() == StateBackendType::kHeap) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
      EXPECT_THAT(s.message(), HasSubstr("'count'"));
      EXPECT_THAT(s.message(), HasSubstr("checkpoint-7"));
    } else {
      ASSERT_TRUE(s.ok()) << s;
      setKey(*backend, "a");
      expectStateException([&] { count.value(); }, {"'count'", kOperator, "decode"});
      setKey(*backend, "b");
      EXPECT_EQ(count.value(), 0);
    }
  }
  // Bytes damaged in RocksDB itself.
  auto backend = create();
  if (backend->store() != nullptr) {
    RuntimeContext context = contextOf(*backend);
    ListState<int64_t>& list = context.getListState(ListStateDescriptor<int64_t>("list"));
    setKey(*backend, "a");
    list.add(1);
    const int id = backend->store()->registerState("list", brook::internal::StateShape::kList);
    backend->store()->addToList(id, keyGroupOf("a"), serialized("a"), "", "xyz");
    expectStateException([&] { list.get(); }, {"'list'", kOperator});
  }
}

TEST_P(KeyedStateBackendTest, AStateRestoredAsAnotherShapeNamesIt) {
  KeyedStateModel model;
  model.kinds["count"] = StateKind::kValue;
  model.values[{"count", keyGroupOf("a"), serialized("a"), ""}] = std::string(8, '\0');
  const std::string bytes = modelBytes(model);

  // Registered after the restore.
  auto backend = create();
  ASSERT_TRUE(restore(*backend, bytes, "checkpoint-7").ok());
  RuntimeContext context = contextOf(*backend);
  expectStateException([&] { context.getListState(ListStateDescriptor<int64_t>("count")); },
                       {"'count'", kOperator});

  // Registered before.
  auto registered = create();
  RuntimeContext registeredContext = contextOf(*registered);
  registeredContext.getListState(ListStateDescriptor<int64_t>("count"));
  absl::Status s = restore(*registered, bytes, "checkpoint-7");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("'count'"));
  EXPECT_THAT(s.message(), HasSubstr("checkpoint-7"));
}

TEST_P(KeyedStateBackendTest, ASnapshotOfAnotherMaxParallelismIsRejected) {
  std::ostringstream out;
  auto writer = KeyedStateSnapshotWriter::create(out, "other", 256, KeyGroupRange{0, 255});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->finish().ok());
  auto backend = create();
  absl::Status s = restore(*backend, out.str(), "checkpoint-3");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("checkpoint-3"));
  EXPECT_THAT(s.message(), HasSubstr("256"));
}

TEST_P(KeyedStateBackendTest, ASnapshotRangeOutsideTheMaxParallelismIsRejected) {
  auto backend = create();
  EXPECT_EQ(backend->snapshot(KeyGroupRange{100, 200}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Timers

TEST_P(KeyedStateBackendTest, TimersSurviveSnapshotAndRestore) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 10);
  auto backend = create();
  OperatorStates states(*backend);
  for (size_t i = 0; i < keys.size(); ++i) {
    states.setKey(keys[i]);
    states.timers->registerEventTimeTimer(100 + static_cast<int64_t>(i));
    states.timers->registerProcessingTimeTimer(1000 - static_cast<int64_t>(i));
  }
  states.timers->setCurrentNamespace(serialized("window"));
  states.setKey(keys[0]);
  states.timers->registerEventTimeTimer(105);
  states.timers->setCurrentNamespace("");
  states.setKey(keys[1]);
  states.timers->deleteEventTimeTimer(101);
  const std::string bytes = snapshotBytes(*backend);

  for (StateBackendType type : {StateBackendType::kHeap, StateBackendType::kRocksDb}) {
    SCOPED_TRACE(stateBackendTypeName(type));
    auto restored = create(kAllKeyGroups, type);
    ASSERT_TRUE(restore(*restored, bytes).ok());
    OperatorStates restoredStates(*restored);
    EXPECT_EQ(restoredStates.timers->numberOfEventTimeTimers(), keys.size());
    EXPECT_EQ(restoredStates.timers->numberOfProcessingTimeTimers(), keys.size());
    EXPECT_EQ(entriesOf(snapshotBytes(*restored)), entriesOf(bytes));

    restoredStates.timers->advanceWatermark(105);
    EXPECT_TRUE(std::is_sorted(
        restoredStates.fired.begin(), restoredStates.fired.end(),
        [](const FiredTimer& a, const FiredTimer& b) { return std::get<1>(a) < std::get<1>(b); }));
    EXPECT_THAT(restoredStates.fired,
                UnorderedElementsAre(
                    FiredTimer{keys[0], 100, "", TimeDomain::kEventTime},
                    FiredTimer{keys[2], 102, "", TimeDomain::kEventTime},
                    FiredTimer{keys[3], 103, "", TimeDomain::kEventTime},
                    FiredTimer{keys[4], 104, "", TimeDomain::kEventTime},
                    FiredTimer{keys[5], 105, "", TimeDomain::kEventTime},
                    FiredTimer{keys[0], 105, serialized("window"), TimeDomain::kEventTime}));
    restoredStates.fired.clear();
    restoredStates.timers->fireAllProcessingTimers();
    ASSERT_EQ(restoredStates.fired.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(restoredStates.fired[i],
                (FiredTimer{keys[keys.size() - 1 - i],
                            1000 - static_cast<int64_t>(keys.size()) + 1 + static_cast<int64_t>(i),
                            "", TimeDomain::kProcessingTime}));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshots and restores

TEST_P(KeyedStateBackendTest, RoundTripsThroughTheOtherBackendExactly) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 40);
  auto source = create();
  OperatorStates sourceStates(*source);
  sourceStates.populate(keys);
  const std::string bytes = snapshotBytes(*source);
  const std::vector<ModelEntry> expected = entriesOf(bytes);
  ASSERT_FALSE(expected.empty());

  auto other = create(kAllKeyGroups, otherType(GetParam()));
  ASSERT_TRUE(restore(*other, bytes).ok());
  // Before the operator registers its states, and after.
  EXPECT_EQ(entriesOf(snapshotBytes(*other)), expected);
  OperatorStates otherStates(*other);
  otherStates.verify(keys);
  const std::string otherBytes = snapshotBytes(*other);
  EXPECT_EQ(entriesOf(otherBytes), expected);

  auto back = create();
  ASSERT_TRUE(restore(*back, otherBytes).ok());
  OperatorStates backStates(*back);
  backStates.verify(keys);
  EXPECT_EQ(entriesOf(snapshotBytes(*back)), expected);
}

TEST_P(KeyedStateBackendTest, StatesRegisteredAfterTheRestoreGetTheirEntries) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 20);
  auto source = create();
  OperatorStates sourceStates(*source);
  sourceStates.populate(keys);
  const std::string bytes = snapshotBytes(*source);

  auto backend = create();
  ASSERT_TRUE(restore(*backend, bytes).ok());
  // An operator that registers only one state in this run keeps the others in its snapshots.
  RuntimeContext context = contextOf(*backend);
  ValueState<int64_t>& count = context.getState(ValueStateDescriptor<int64_t>("count"));
  setKey(*backend, keys[3]);
  EXPECT_EQ(count.value(), 3);
  count.update(33);
  const std::string partial = snapshotBytes(*backend);
  std::vector<ModelEntry> expected = entriesOf(bytes);
  for (ModelEntry& e : expected) {
    if (e.state == "count" && e.key == serialized(keys[3]) && e.stateNamespace.empty()) {
      DataOutput out;
      brook::serialize(int64_t{33}, out);
      e.value = std::string(out.view());
    }
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(entriesOf(partial), expected);

  // The next run registers everything.
  auto next = create();
  ASSERT_TRUE(restore(*next, partial).ok());
  OperatorStates nextStates(*next);
  nextStates.setKey(keys[3]);
  EXPECT_EQ(nextStates.count->value(), 33);
  nextStates.count->update(3);
  nextStates.verify(keys);
}

TEST_P(KeyedStateBackendTest, ASnapshotDoesNotSeeLaterWritesAndOutlivesTheBackend) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 20);
  auto backend = create();
  OperatorStates states(*backend);
  states.populate(keys);
  const std::vector<ModelEntry> expected = entriesOf(snapshotBytes(*backend));

  auto snapshot = backend->snapshot(kAllKeyGroups);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ((*snapshot)->keyGroupRange(), kAllKeyGroups);
  states.setKey(keys[0]);
  states.count->update(999);
  states.events->add("late");
  states.seen->remove("x");
  states.timers->registerEventTimeTimer(7);
  states.setKey("a new key");
  states.count->update(1);
  states.sum->add(1);
  EXPECT_EQ(entriesOf(write(**snapshot, kAllKeyGroups)), expected);

  states.timers.reset();
  backend.reset();
  EXPECT_EQ(entriesOf(write(**snapshot, kAllKeyGroups)), expected);
}

TEST_P(KeyedStateBackendTest, ASnapshotWrittenOnAnotherThreadWhileTheStateChangesHoldsItsTime) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 400);
  auto backend = create();
  OperatorStates states(*backend);
  states.populate(keys);
  const std::vector<ModelEntry> before = entriesOf(snapshotBytes(*backend));

  // The asynchronous phase runs while the task thread changes every key's state of every kind.
  auto snapshot = backend->snapshot(kAllKeyGroups);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  std::string written;
  std::thread writer([&] { written = write(**snapshot, kAllKeyGroups); });
  for (const std::string& key : keys) {
    states.setKey(key);
    states.count->update(-1);
    states.events->clear();
    states.seen->put("z", 1);
    states.seen->remove("x");
    states.sum->add(10);
    states.ttl->update("changed");
    states.timers->registerEventTimeTimer(7);
  }
  const std::string later = snapshotBytes(*backend);
  writer.join();
  EXPECT_EQ(entriesOf(written), before);
  EXPECT_NE(entriesOf(later), before);

  auto restored = create();
  ASSERT_TRUE(restore(*restored, later).ok());
  OperatorStates restoredStates(*restored);
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    const auto n = static_cast<int64_t>(i);
    restoredStates.setKey(keys[i]);
    EXPECT_EQ(restoredStates.count->value(), -1);
    EXPECT_THAT(restoredStates.events->get(), IsEmpty());
    EXPECT_THAT(restoredStates.seen->entries(),
                UnorderedElementsAre(Pair("y", 2 * n), Pair("z", 1)));
    EXPECT_EQ(restoredStates.sum->get(), n + 11);
    EXPECT_EQ(restoredStates.ttl->value(), "changed");
  }
  EXPECT_EQ(restoredStates.timers->numberOfEventTimeTimers(), 3 * keys.size());
}

TEST_P(KeyedStateBackendTest, TwoSnapshotsInFlightEachKeepTheirTime) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 50);
  auto backend = create();
  OperatorStates states(*backend);
  states.populate(keys);
  const std::vector<ModelEntry> first = entriesOf(snapshotBytes(*backend));
  auto firstSnapshot = backend->snapshot(kAllKeyGroups);
  ASSERT_TRUE(firstSnapshot.ok()) << firstSnapshot.status();

  states.setKey(keys[0]);
  states.count->update(100);
  states.events->add("second");
  const std::vector<ModelEntry> second = entriesOf(snapshotBytes(*backend));
  auto secondSnapshot = backend->snapshot(kAllKeyGroups);
  ASSERT_TRUE(secondSnapshot.ok()) << secondSnapshot.status();

  states.count->update(200);
  states.events->add("third");
  states.setKey(keys[1]);
  states.count->update(300);
  EXPECT_EQ(entriesOf(write(**secondSnapshot, kAllKeyGroups)), second);
  EXPECT_EQ(entriesOf(write(**firstSnapshot, kAllKeyGroups)), first);
  EXPECT_NE(first, second);
  states.setKey(keys[0]);
  EXPECT_EQ(states.count->value(), 200);
  EXPECT_THAT(states.events->get(), ElementsAre("a" + keys[0], "b" + keys[0], "c", "second", "third"));
}

TEST_P(KeyedStateBackendTest, ASnapshotOfPartOfTheKeyGroupsHoldsOnlyThose) {
  const std::vector<std::string> keys = keysIn(kAllKeyGroups, 40);
  auto backend = create();
  OperatorStates states(*backend);
  states.populate(keys);
  const std::string all = snapshotBytes(*backend);
  const std::string upper = snapshotBytes(*backend, kUpperHalf);
  EXPECT_EQ(entriesOf(upper, kUpperHalf), entriesOf(all, kUpperHalf));
  EXPECT_FALSE(entriesOf(upper, kUpperHalf).empty());
  EXPECT_TRUE(entriesOf(upper, kLowerHalf).empty());
}

TEST_P(KeyedStateBackendTest, RescalesFromTwoSubtasksToOneAndBack) {
  const std::vector<std::string> lowerKeys = keysIn(kLowerHalf, 20);
  const std::vector<std::string> upperKeys = keysIn(kUpperHalf, 20);
  auto lower = create(kLowerHalf);
  OperatorStates lowerStates(*lower);
  lowerStates.populate(lowerKeys);
  const std::string lowerBytes = snapshotBytes(*lower, kLowerHalf);
  auto upper = create(kUpperHalf);
  OperatorStates upperStates(*upper);
  upperStates.populate(upperKeys);
  const std::string upperBytes = snapshotBytes(*upper, kUpperHalf);

  std::vector<ModelEntry> expected = entriesOf(lowerBytes, kLowerHalf);
  for (const ModelEntry& e : entriesOf(upperBytes, kUpperHalf)) {
    expected.push_back(e);
  }
  std::sort(expected.begin(), expected.end());

  for (StateBackendType type : {StateBackendType::kHeap, StateBackendType::kRocksDb}) {
    SCOPED_TRACE(stateBackendTypeName(type));
    // Scale in: one subtask restores both snapshots.
    auto whole = create(kAllKeyGroups, type);
    ASSERT_TRUE(restore(*whole, lowerBytes, "lower").ok());
    ASSERT_TRUE(restore(*whole, upperBytes, "upper").ok());
    const std::string wholeBytes = snapshotBytes(*whole);
    EXPECT_EQ(entriesOf(wholeBytes), expected);
    OperatorStates wholeStates(*whole);
    EXPECT_EQ(wholeStates.timers->numberOfEventTimeTimers(),
              2 * (lowerKeys.size() + upperKeys.size()));
    for (const std::vector<std::string>* keys : {&lowerKeys, &upperKeys}) {
      for (size_t i = 0; i < keys->size(); ++i) {
        wholeStates.setKey((*keys)[i]);
        EXPECT_EQ(wholeStates.count->value(), static_cast<int64_t>(i));
        EXPECT_THAT(wholeStates.events->get(),
                    ElementsAre("a" + (*keys)[i], "b" + (*keys)[i], "c"));
      }
    }
    EXPECT_EQ(entriesOf(snapshotBytes(*whole)), expected);

    // Scale out again: each half restores its key groups of the whole.
    auto lowerAgain = create(kLowerHalf, GetParam());
    ASSERT_TRUE(restore(*lowerAgain, wholeBytes).ok());
    OperatorStates lowerAgainStates(*lowerAgain);
    lowerAgainStates.verify(lowerKeys);
    EXPECT_EQ(entriesOf(snapshotBytes(*lowerAgain, kLowerHalf)), entriesOf(lowerBytes));
    auto upperAgain = create(kUpperHalf, GetParam());
    ASSERT_TRUE(restore(*upperAgain, wholeBytes).ok());
    OperatorStates upperAgainStates(*upperAgain);
    upperAgainStates.verify(upperKeys);
    EXPECT_EQ(entriesOf(snapshotBytes(*upperAgain, kUpperHalf)), entriesOf(upperBytes));

    // A subtask whose key groups straddle both snapshots' restores from both.
    const KeyGroupRange middle{32, 95};
    auto straddling = create(middle, type);
    ASSERT_TRUE(restore(*straddling, lowerBytes, "lower").ok());
    ASSERT_TRUE(restore(*straddling, upperBytes, "upper").ok());
    EXPECT_EQ(entriesOf(snapshotBytes(*straddling, middle)), entriesOf(wholeBytes, middle));
  }
}

}  // namespace
}  // namespace brook::state
