// Keyed state benchmark: ValueState get+update on the heap and in RocksDB, each beside a
// hand-written baseline measured in the same run, and a RocksDB run whose state is larger than
// the memory it is configured with.
//
//   state_benchmark [--keys N ...] [--accesses N] [--repetitions N] [--large-repetitions N]
//                   [--big | --no-big] [--big-keys N] [--big-value-bytes N] [--big-reads N]
//                   [--data-dir DIR] [--markdown PATH]
//
// The default is 1M keys; `--keys 1000000 20000000` adds the issue's 20M, which takes about half
// an hour on a 2-core VM (loading 20M keys into RocksDB alone takes 4-7 minutes per run), so
// key counts of 10M and more run `--large-repetitions` times (1) rather than `--repetitions`.
//
// Every run executes in its own child process, this program started again in a hidden mode, so
// that wait4() reports the run's own peak resident set size. Each short run first loads N
// distinct int64 keys (0 .. N-1, count 0; not timed as accesses), then times `--accesses`
// get+update accesses (read the key's count, add one, write it back) to keys drawn uniformly
// from [0, N) by a deterministic generator; every run of one N draws the same keys:
//
//   baseline-heap     absl::flat_hash_map<int64_t, int64_t>: find, add one, store;
//   typed-heap        ValueState<int64_t> on the heap backend, accessed as a keyed operator
//                     accesses it: the key serialized into a reused DataOutput, setCurrentKey,
//                     value(), update(value + 1);
//   serial-heap       the baseline loop with each access's key depending on the count the
//                     previous access read (it never changes the key): a diagnostic of how much
//                     of the baseline's speed comes from overlapping the cache misses of
//                     consecutive accesses, which a longer per-access path cannot;
//   baseline-rocksdb  raw RocksDB, configured as RocksDbKeyedStore configures it (one LRU cache
//                     of block cache + write buffers, memtables charged to it through a
//                     stalling write buffer manager, memtable Bloom filters, index and filter
//                     blocks in the cache, WAL off): Get of an 8-byte key, Put of an 8-byte value;
//   store-rocksdb     RocksDbKeyedStore::getValue + putValue with the key serialized as Brook
//                     serializes an int64_t (8 bytes, little-endian), its key group computed
//                     per access with keyGroupFor(key, 128) and an empty namespace: the typed
//                     RocksDB path minus the typed layer;
//   typed-rocksdb     ValueState<int64_t> on the RocksDB backend, accessed as typed-heap.
//
// The RocksDB runs flush and compact after loading, so that every access phase starts from the
// same SST files. Each run reports the sum of the counts it read, which must be the same for
// every run of one N (it is a function of the key sequence alone).
//
// The big run (`--big`) writes `--big-keys` values of `--big-value-bytes` incompressible bytes
// (2,000,000 x 1 KiB by default) into a ValueState<std::string> on the RocksDB backend with a
// 256 MiB block cache, 64 MiB of write buffers and a 16 MiB state cache, then reads `--big-reads`
// random keys and checks their bytes; it reports the peak RSS against that 336 MiB budget.
//
// The RocksDB directories are under --data-dir (/tmp/brook-bench) and removed after each run.
// The results are printed as a table and written to the "## Keyed state" section of
// BENCHMARKS.md.

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <absl/container/flat_hash_map.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_buffer_manager.h>

#include <brook/functions.h>
#include <brook/serializer.h>
#include <brook/state.h>

#include "benchmark_report.h"
#include "benchmark_support.h"
#include "state/internal/rocksdb_keyed_state_backend.h"
#include "state/internal/rocksdb_settings.h"
#include "state/key_group.h"
#include "state/keyed_state_backend_factory.h"
#include "state/rocksdb_keyed_store.h"
#include "state/state_kind.h"

namespace brook::benchmarks {

namespace {

namespace fs = std::filesystem;
using brook::state::RocksDbKeyedStore;
using brook::state::RuntimeKeyedStateBackend;
using brook::state::StateBackendType;

constexpr int64_t kDefaultKeys = 1'000'000;
constexpr int64_t kDefaultAccesses = 2'000'000;
// Key counts from which the short runs repeat `--large-repetitions` times.
constexpr int64_t kLargeKeys = 10'000'000;
constexpr uint64_t kAccessSeed = 0x5eed'57a7'e000'0001;
constexpr uint64_t kBigReadSeed = 0x5eed'57a7'e000'0002;
constexpr int kMaxParallelism = 128;
// The big run's memory: the issue's 256 MB block cache, and 64 MiB of write buffers.
constexpr int64_t kBigBlockCacheBytes = int64_t{256} << 20;
constexpr int64_t kBigWriteBufferBytes = int64_t{64} << 20;
constexpr int64_t kBigStateCacheBytes = int64_t{16} << 20;

// ---------------------------------------------------------------------------------------------
// Helpers.

// Brook's serialization of an int64_t: 8 bytes, little-endian (the machine's order; Brook's
// serializer asserts that it is little-endian).
void encodeInt64(int64_t value, char* out) {
  std::memcpy(out, &value, sizeof(value));
}

int64_t decodeInt64(const char* in) {
  int64_t value = 0;
  std::memcpy(&value, in, sizeof(value));
  return value;
}

void check(const absl::Status& status, const char* what) {
  if (!status.ok())
    throw std::runtime_error(std::string(what) + ": " + status.ToString());
}

template <typename T>
T check(absl::StatusOr<T> result, const char* what) {
  if (!result.ok())
    throw std::runtime_error(std::string(what) + ": " + result.status().ToString());
  return *std::move(result);
}

void check(const rocksdb::Status& status, const char* what) {
  if (!status.ok())
    throw std::runtime_error(std::string(what) + ": " + status.ToString());
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A "Vm...:" line of /proc/self/status in KiB, or 0.
int64_t procStatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t length = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':')
      return std::atoll(line.c_str() + length + 1);
  }
  return 0;
}

uint64_t directoryBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec))
      total += entry.file_size(ec);
  }
  return total;
}

// The big run's value of `key`: the key's 8 bytes, then bytes from a generator seeded by the
// key, so that they do not compress and every read can be checked.
void fillBigValue(int64_t key, std::string& value) {
  Rng rng(static_cast<uint64_t>(key) * 0x9e3779b97f4a7c15ULL + 1);
  encodeInt64(key, value.data());
  for (size_t i = 8; i < value.size(); i += 8) {
    uint64_t r = rng.next();
    std::memcpy(value.data() + i, &r, std::min<size_t>(8, value.size() - i));
  }
}

// ---------------------------------------------------------------------------------------------
// The runs, each in a child process.

// What a run's child reports through its result pipe.
struct ChildReport {
  double loadSeconds = 0;    // loading the keys (and flushing and compacting, for RocksDB)
  double accessSeconds = 0;  // the timed accesses (big run: the reads)
  int64_t accesses = 0;
  int64_t checksum = 0;          // sum of the counts read (big run: values checked)
  int64_t rssBeforeKib = 0;      // VmRSS before the state was created
  int64_t peakAfterLoadKib = 0;  // VmHWM after the load
  int64_t cacheUsageBytes = 0;   // RocksDB cache usage at the end (store runs)
  int64_t memTableBytes = 0;     // write buffer manager's usage at the end (store runs)
  int64_t diskBytes = 0;         // RocksDB directory size after the load
};

void writeReport(int fd, const ChildReport& r) {
  char text[512];
  int n = std::snprintf(
      text, sizeof(text), "%.9f %.9f %lld %lld %lld %lld %lld %lld %lld\n", r.loadSeconds,
      r.accessSeconds, static_cast<long long>(r.accesses), static_cast<long long>(r.checksum),
      static_cast<long long>(r.rssBeforeKib), static_cast<long long>(r.peakAfterLoadKib),
      static_cast<long long>(r.cacheUsageBytes), static_cast<long long>(r.memTableBytes),
      static_cast<long long>(r.diskBytes));
  if (::write(fd, text, static_cast<size_t>(n)) != n)
    throwErrno("cannot write the result");
}

bool parseReport(const std::string& text, ChildReport& r) {
  long long v[7] = {};
  int n = std::sscanf(text.c_str(), "%lf %lf %lld %lld %lld %lld %lld %lld %lld", &r.loadSeconds,
                      &r.accessSeconds, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
  r.accesses = v[0];
  r.checksum = v[1];
  r.rssBeforeKib = v[2];
  r.peakAfterLoadKib = v[3];
  r.cacheUsageBytes = v[4];
  r.memTableBytes = v[5];
  r.diskBytes = v[6];
  return n == 9;
}

ChildReport runBaselineHeap(int64_t keys, int64_t accesses) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  absl::flat_hash_map<int64_t, int64_t> counts;
  counts.reserve(static_cast<size_t>(keys));
  for (int64_t k = 0; k < keys; ++k)
    counts.emplace(k, 0);
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");

  Rng rng(kAccessSeed);
  int64_t checksum = 0;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < accesses; ++i) {
    const int64_t key = static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys)));
    auto it = counts.find(key);
    int64_t count = it == counts.end() ? 0 : it->second;
    checksum += count;
    if (it == counts.end())
      counts.emplace(key, count + 1);
    else
      it->second = count + 1;
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = accesses;
  report.checksum = checksum;
  return report;
}

// The baseline loop, except that each access's key depends on the count the previous access
// read (shifted out, so the keys are the baseline's): the processor cannot start an access's
// lookup before the previous one has come back from memory.
ChildReport runSerialHeap(int64_t keys, int64_t accesses) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  absl::flat_hash_map<int64_t, int64_t> counts;
  counts.reserve(static_cast<size_t>(keys));
  for (int64_t k = 0; k < keys; ++k)
    counts.emplace(k, 0);
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");

  Rng rng(kAccessSeed);
  int64_t checksum = 0;
  uint64_t previous = 0;  // counts are far below 2^62: always 0, but the compiler cannot know
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < accesses; ++i) {
    const auto key = static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys)) ^ previous);
    auto it = counts.find(key);
    int64_t count = it == counts.end() ? 0 : it->second;
    checksum += count;
    previous = static_cast<uint64_t>(count) >> 62;
    if (it == counts.end())
      counts.emplace(key, count + 1);
    else
      it->second = count + 1;
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = accesses;
  report.checksum = checksum;
  return report;
}

// Raw RocksDB as RocksDbKeyedStore configures it (see its Impl constructor), with the data in
// the default column family.
struct RawDb {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBufferManager;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions writeOptions;
  rocksdb::ReadOptions readOptions;
};

RawDb openRawDb(const std::string& directory, const RocksDbKeyedStore::Options& store) {
  RawDb raw;
  brook::state::internal::RocksDbSettings settings = brook::state::internal::rocksDbSettings(store);
  raw.cache = settings.cache;
  raw.writeBufferManager = settings.writeBufferManager;
  const rocksdb::Options options(settings.db, settings.columnFamily);
  raw.writeOptions.disableWAL = true;
  fs::create_directories(directory);
  rocksdb::DB* db = nullptr;
  check(rocksdb::DB::Open(options, directory, &db), "opening RocksDB");
  raw.db.reset(db);
  return raw;
}

ChildReport runBaselineRocksDb(const std::string& directory,
                               const RocksDbKeyedStore::Options& storeOptions,
                               int64_t keys,
                               int64_t accesses) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  RawDb raw = openRawDb(directory, storeOptions);
  char keyBytes[8];
  char valueBytes[8];
  encodeInt64(0, valueBytes);
  for (int64_t k = 0; k < keys; ++k) {
    encodeInt64(k, keyBytes);
    check(raw.db->Put(raw.writeOptions, rocksdb::Slice(keyBytes, 8), rocksdb::Slice(valueBytes, 8)),
          "loading");
  }
  check(raw.db->Flush(rocksdb::FlushOptions()), "flushing");
  check(raw.db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), "compacting");
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");
  report.diskBytes = static_cast<int64_t>(directoryBytes(directory));

  Rng rng(kAccessSeed);
  int64_t checksum = 0;
  rocksdb::PinnableSlice slice;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < accesses; ++i) {
    const int64_t key = static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys)));
    encodeInt64(key, keyBytes);
    slice.Reset();
    rocksdb::Status s = raw.db->Get(raw.readOptions, raw.db->DefaultColumnFamily(),
                                    rocksdb::Slice(keyBytes, 8), &slice);
    int64_t count = 0;
    if (s.ok()) {
      if (slice.size() != 8)
        throw std::runtime_error("a value of " + std::to_string(slice.size()) + " bytes");
      count = decodeInt64(slice.data());
    } else if (!s.IsNotFound()) {
      check(s, "reading");
    }
    checksum += count;
    encodeInt64(count + 1, valueBytes);
    check(raw.db->Put(raw.writeOptions, rocksdb::Slice(keyBytes, 8), rocksdb::Slice(valueBytes, 8)),
          "writing");
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = accesses;
  report.checksum = checksum;
  report.cacheUsageBytes = static_cast<int64_t>(raw.cache->GetUsage());
  report.memTableBytes = static_cast<int64_t>(raw.writeBufferManager->memory_usage());
  check(raw.db->Close(), "closing");
  raw.db.reset();
  fs::remove_all(directory);
  return report;
}

ChildReport runStoreRocksDb(const std::string& directory,
                            const RocksDbKeyedStore::Options& storeOptions,
                            int64_t keys,
                            int64_t accesses) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<RocksDbKeyedStore> store =
      check(RocksDbKeyedStore::open(directory, storeOptions), "opening the store");
  const brook::state::StateId state =
      check(store->registerState("count", brook::state::StateKind::kValue), "registering");
  char keyBytes[8];
  char valueBytes[8];
  const std::string_view key(keyBytes, 8);
  const std::string_view value(valueBytes, 8);
  encodeInt64(0, valueBytes);
  for (int64_t k = 0; k < keys; ++k) {
    encodeInt64(k, keyBytes);
    check(store->putValue(state, brook::state::keyGroupFor(key, kMaxParallelism), key, {}, value),
          "loading");
  }
  check(store->flushAndCompact(), "flushing and compacting");
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");
  report.diskBytes = static_cast<int64_t>(directoryBytes(directory));

  Rng rng(kAccessSeed);
  int64_t checksum = 0;
  std::string read;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < accesses; ++i) {
    encodeInt64(static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys))), keyBytes);
    const int keyGroup = brook::state::keyGroupFor(key, kMaxParallelism);
    const bool found = check(store->getValue(state, keyGroup, key, {}, &read), "reading");
    int64_t count = 0;
    if (found) {
      if (read.size() != 8)
        throw std::runtime_error("a value of " + std::to_string(read.size()) + " bytes");
      count = decodeInt64(read.data());
    }
    checksum += count;
    encodeInt64(count + 1, valueBytes);
    check(store->putValue(state, keyGroup, key, {}, value), "writing");
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = accesses;
  report.checksum = checksum;
  RocksDbKeyedStore::MemoryUsage usage = store->memoryUsage();
  report.cacheUsageBytes = usage.blockCacheUsage;
  report.memTableBytes = usage.memTableBytes;
  check(store->close(), "closing");  // removes the directory
  return report;
}

// A keyed state backend of `type` for all key groups of kMaxParallelism, as the runtime creates
// one for a keyed operator instance (parallelism 1); RocksDB in `directory` with `rocksDb`.
std::unique_ptr<RuntimeKeyedStateBackend> createBackend(StateBackendType type,
                                                        const std::string& directory,
                                                        const RocksDbKeyedStore::Options& rocksDb) {
  brook::state::KeyedStateBackendOptions options;
  options.type = type;
  options.operatorDescription = "Count (1/1)";
  options.maxParallelism = kMaxParallelism;
  options.keyGroupRange = brook::state::KeyGroupRange{0, kMaxParallelism - 1};
  options.rocksDbDirectory = directory;
  options.rocksDb = rocksDb;
  return check(brook::state::createKeyedStateBackend(std::move(options)), "creating the backend");
}

// The RocksDB store under a RocksDB backend.
RocksDbKeyedStore& rocksDbStoreOf(RuntimeKeyedStateBackend& backend) {
  return static_cast<brook::state::internal::RocksDbKeyedStateBackend&>(backend).rocksDbStore();
}

// ValueState<int64_t> get+update through the typed API on a backend of `type`, accessed as a
// keyed operator accesses it: the int64_t key serialized into a reused DataOutput,
// setCurrentKey, value(), update(value + 1).
ChildReport runTyped(StateBackendType type,
                     const std::string& directory,
                     const RocksDbKeyedStore::Options& storeOptions,
                     int64_t keys,
                     int64_t accesses) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<RuntimeKeyedStateBackend> backend = createBackend(type, directory, storeOptions);
  brook::RuntimeContext context;
  context.operatorName = "Count";
  context.keyedStateBackend = backend.get();
  brook::ValueState<int64_t>& count =
      context.getState(brook::ValueStateDescriptor<int64_t>("count"));
  brook::DataOutput keyBytes;
  for (int64_t k = 0; k < keys; ++k) {
    keyBytes.clear();
    brook::serialize(k, keyBytes);
    backend->setCurrentKey(keyBytes.view());
    count.update(0);
  }
  if (type == StateBackendType::kRocksDb)
    check(rocksDbStoreOf(*backend).flushAndCompact(), "flushing and compacting");
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");
  if (type == StateBackendType::kRocksDb)
    report.diskBytes = static_cast<int64_t>(directoryBytes(directory));

  Rng rng(kAccessSeed);
  int64_t checksum = 0;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < accesses; ++i) {
    const int64_t key = static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys)));
    keyBytes.clear();
    brook::serialize(key, keyBytes);
    backend->setCurrentKey(keyBytes.view());
    const int64_t value = count.value().value_or(0);
    checksum += value;
    count.update(value + 1);
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = accesses;
  report.checksum = checksum;
  if (type == StateBackendType::kRocksDb) {
    RocksDbKeyedStore::MemoryUsage usage = rocksDbStoreOf(*backend).memoryUsage();
    report.cacheUsageBytes = usage.blockCacheUsage;
    report.memTableBytes = usage.memTableBytes;
  }
  backend.reset();  // closes RocksDB and removes its directory
  return report;
}

// Writes `keys` values of `valueBytes` bytes into a ValueState<std::string> on a RocksDB backend
// with the big run's memory, then reads `reads` random keys through it and checks them.
// loadSeconds is the writing, accessSeconds the reading; checksum counts the values checked.
ChildReport runBig(const std::string& directory, int64_t keys, int valueBytes, int64_t reads) {
  ChildReport report;
  report.rssBeforeKib = procStatusKib("VmRSS");
  RocksDbKeyedStore::Options options;
  options.blockCacheBytes = kBigBlockCacheBytes;
  options.writeBufferBytes = kBigWriteBufferBytes;
  options.stateCacheBytes = kBigStateCacheBytes;
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<RuntimeKeyedStateBackend> backend =
      createBackend(StateBackendType::kRocksDb, directory, options);
  brook::RuntimeContext context;
  context.operatorName = "Big";
  context.keyedStateBackend = backend.get();
  brook::ValueState<std::string>& state =
      context.getState(brook::ValueStateDescriptor<std::string>("big"));
  brook::DataOutput keyBytes;
  std::string value(static_cast<size_t>(valueBytes), '\0');
  for (int64_t k = 0; k < keys; ++k) {
    keyBytes.clear();
    brook::serialize(k, keyBytes);
    backend->setCurrentKey(keyBytes.view());
    fillBigValue(k, value);
    state.update(value);
  }
  report.loadSeconds = secondsSince(start);
  report.peakAfterLoadKib = procStatusKib("VmHWM");
  report.diskBytes = static_cast<int64_t>(directoryBytes(directory));

  Rng rng(kBigReadSeed);
  std::string expected(static_cast<size_t>(valueBytes), '\0');
  int64_t checked = 0;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < reads; ++i) {
    const int64_t k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(keys)));
    keyBytes.clear();
    brook::serialize(k, keyBytes);
    backend->setCurrentKey(keyBytes.view());
    const std::optional<std::string> read = state.value();
    fillBigValue(k, expected);
    if (!read.has_value() || *read != expected)
      throw std::runtime_error("key " + std::to_string(k) + ": wrong or missing value");
    ++checked;
  }
  report.accessSeconds = secondsSince(start);
  report.accesses = reads;
  report.checksum = checked;
  RocksDbKeyedStore::MemoryUsage usage = rocksDbStoreOf(*backend).memoryUsage();
  report.cacheUsageBytes = usage.blockCacheUsage;
  report.memTableBytes = usage.memTableBytes;
  backend.reset();  // closes RocksDB and removes its directory
  return report;
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the children and measures them.

struct Measurement {
  ChildReport report;
  double peakRssMb = 0;
  double cpuSeconds = 0;
  double wallSeconds = 0;  // the whole child, from fork to reaping
};

Measurement runChild(const std::string& self,
                     const std::string& what,
                     const std::string& directory,
                     std::vector<std::string> args) {
  auto start = std::chrono::steady_clock::now();
  ResultPipeChild child = startWithResultPipe(self, std::move(args));
  std::string reportText;
  char buffer[256];
  for (;;) {
    ssize_t n = ::read(child.resultFd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    reportText.append(buffer, static_cast<size_t>(n));
  }
  ::close(child.resultFd);
  struct rusage usage {};
  int status = reapChild(child.pid, usage);
  std::error_code ec;
  if (!directory.empty())
    fs::remove_all(directory, ec);  // whatever a failed child left behind
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the " + what + " run failed (" + exitStatusText(status) + ")");
  Measurement m;
  if (!parseReport(reportText, m.report))
    throw std::runtime_error("the " + what + " run reported nothing");
  m.peakRssMb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB.
  m.cpuSeconds = cpuSecondsOf(usage);
  m.wallSeconds = secondsSince(start);
  return m;
}

// Indexes into shortRows().
constexpr int kBaselineHeap = 0;
constexpr int kSerialHeap = 2;
constexpr int kBaselineRocksDb = 3;
constexpr int kTypedRocksDb = 5;

struct RowSpec {
  std::string name;     // the child mode: "baseline-heap", ...
  std::string backend;  // "heap", "RocksDB"
  std::string label;    // as shown in the table
  int baselineIndex;    // the row it is compared with (its own index for a baseline)
  double target;        // the issue's minimum ratio to the baseline; 0: none
};

const std::vector<RowSpec>& shortRows() {
  static const std::vector<RowSpec> rows = {
      {"baseline-heap", "heap", "baseline: `absl::flat_hash_map` loop", kBaselineHeap, 0},
      {"typed-heap", "heap", "typed `ValueState<int64_t>`", kBaselineHeap, 0.5},
      {"serial-heap", "heap", "diagnostic: the baseline loop, accesses serialized", kBaselineHeap,
       0},
      {"baseline-rocksdb", "RocksDB", "baseline: raw RocksDB Get + Put", kBaselineRocksDb, 0},
      {"store-rocksdb", "RocksDB", "`RocksDbKeyedStore` getValue + putValue", kBaselineRocksDb, 0},
      {"typed-rocksdb", "RocksDB", "typed `ValueState<int64_t>`", kBaselineRocksDb, 0.8},
  };
  return rows;
}

struct RowResult {
  Measurement best;  // the fastest access phase
  double maxPeakRssMb = 0;
  double slowestAccessSeconds = 0;
  double totalWallSeconds = 0;
};

struct SizeResult {
  int64_t keys = 0;
  int repetitions = 0;
  std::vector<RowResult> rows;
};

double rateOf(const Measurement& m) {
  return static_cast<double>(m.report.accesses) / m.report.accessSeconds;
}

// A rate per second in whole numbers with thousands separators: RocksDB's rates are in the
// hundreds of thousands, where formatRate's one decimal of millions says too little.
std::string perSecond(double rate) {
  return withThousands(static_cast<uint64_t>(rate + 0.5));
}

std::string keysLabel(int64_t keys) {
  if (keys % 1'000'000 == 0)
    return std::to_string(keys / 1'000'000) + "M";
  return withThousands(static_cast<uint64_t>(keys));
}

struct Options {
  std::vector<int64_t> keys = {kDefaultKeys};
  int64_t accesses = kDefaultAccesses;
  int repetitions = 3;
  int largeRepetitions = 1;  // for key counts of kLargeKeys and more
  bool big = true;
  int64_t bigKeys = 2'000'000;
  int bigValueBytes = 1024;
  int64_t bigReads = 200'000;
  std::string dataDir = "/tmp/brook-bench";
  std::string markdownPath = BROOK_BENCHMARKS_MARKDOWN;
  // The hidden child mode.
  std::string child;
  std::string directory;
  int64_t childKeys = 0;
  int resultFd = -1;
};

int runChildMode(const Options& options) {
  ChildReport report;
  const RocksDbKeyedStore::Options storeOptions;  // the engine's defaults
  if (options.child == "baseline-heap") {
    report = runBaselineHeap(options.childKeys, options.accesses);
  } else if (options.child == "typed-heap") {
    report =
        runTyped(StateBackendType::kHeap, "", storeOptions, options.childKeys, options.accesses);
  } else if (options.child == "serial-heap") {
    report = runSerialHeap(options.childKeys, options.accesses);
  } else if (options.child == "baseline-rocksdb") {
    report =
        runBaselineRocksDb(options.directory, storeOptions, options.childKeys, options.accesses);
  } else if (options.child == "store-rocksdb") {
    report = runStoreRocksDb(options.directory, storeOptions, options.childKeys, options.accesses);
  } else if (options.child == "typed-rocksdb") {
    report = runTyped(StateBackendType::kRocksDb, options.directory, storeOptions,
                      options.childKeys, options.accesses);
  } else if (options.child == "big") {
    report = runBig(options.directory, options.childKeys, options.bigValueBytes, options.bigReads);
  } else {
    throw std::runtime_error("unknown child mode '" + options.child + "'");
  }
  if (options.resultFd >= 0)
    writeReport(options.resultFd, report);
  return 0;
}

std::string mib(int64_t bytes) {
  return formatFixed(static_cast<double>(bytes) / (1 << 20), 0);
}

// The ratio of row `i` of `size` to its baseline, from the best access phase of each.
double ratioOf(const SizeResult& size, size_t i) {
  const RowSpec& spec = shortRows()[i];
  return rateOf(size.rows[i].best) /
         rateOf(size.rows[static_cast<size_t>(spec.baselineIndex)].best);
}

// What the profiles of the typed heap path showed, for BENCHMARKS.md (the numbers are those of
// the run that wrote it).
constexpr const char* kHeapExplanation =
    "Why the typed heap state misses 0.5x (profiled with perf and callgrind on this machine): "
    "the state is\nlarger than the caches, so every access costs two cache misses, the hash "
    "table's control bytes and\nthen its slot, whatever the code around them. The baseline "
    "loop is ~60 instructions per access,\nso the processor works several accesses ahead and "
    "their misses overlap; the serialized diagnostic\nrow shows what an access costs when they "
    "cannot. The typed path is ~430 instructions per access\n(serialize the key; "
    "`setCurrentKey`: MurmurHash3 for the key group, ~110 with the length-prefixed\ncopy of "
    "the key; two virtual calls; the table's probe and key comparison; the snapshots'\n"
    "copy-on-write check), more than the processor's reorder window, so its accesses barely\n"
    "overlap: each pays about the serialized row's misses plus its own instructions, and perf\n"
    "puts ~75% of its samples on the two misses. What the state layer could change, it does:\n"
    "the heap tables hash keys of up to 16 bytes from single bytes (absl::Hash read the 9-byte\n"
    "key with 8-byte loads straddling the bytes `setCurrentKey` had just stored; such loads\n"
    "cannot be served from the store buffer and wait for the previous access's misses to\n"
    "retire), remember the slot of their last lookup so that `value()` then `update()` probe\n"
    "once, and take the key's hash from `setCurrentKey`, which hashes the key once for its key\n"
    "group and the tables (reading its tail with word loads) and writes the length-prefixed key\n"
    "without string appends (callgrind: 560 -> 460 -> 430 instructions per access). Against a\n"
    "loop that overlaps its misses, even a much shorter path would stay well under 0.5x at\n"
    "sizes that miss the caches.\n\n"
    "RocksDB: perf puts the time in RocksDB itself (memtable skip list insert and search, "
    "block cache\nlookups, ~6% in `__tls_get_addr` of the shared library); the typed layer "
    "is a few percent. The\nstore and the raw baseline now both build a whole-key Bloom filter "
    "per memtable, so that reads of\nkeys the memtable lacks skip the skip list search: "
    "memtable reads fell from ~29% to ~7% of the\nsamples, and get+update/s rose by about a "
    "third at 1M keys (interleaved A/B runs, 72K -> 99K/s\naveraged over 4). Both also build "
    "whole-key Bloom filters per table file, partitioned into\n4 KiB blocks: a full filter "
    "block of a 1M-key file thrashes the sharded block cache (baseline\n133K/s -> 41K/s, "
    "store 222K/s -> 59K/s in one run), the partitioned ones cost little (113K/s,\n187K/s) "
    "and spare the store's state cache tombstones (see Nexmark q4). Tried and left out:\n"
    "smaller memtables (no gain at 1M keys). At 20M keys the data (100-150 MiB) is larger "
    "than\nthe "
    "64 MiB block cache, and the access phase's 2M writes flush ~8 memtables whose "
    "compactions\nrewrite most of the data on the same 2 cores: access phases there vary "
    "several-fold from run to run\n(typed ValueState: 7.7K/s and 14K/s in two separate runs "
    "of 2M accesses), so the 20M RocksDB rows\nare rough, and their ratio more so than at "
    "1M: in the run above, the store row, which does the\nsame RocksDB work as the typed row, "
    "measured 0.70x where the typed row measured 2.09x.\n\n"
    "The store's state cache (16 MiB) holds ~100,000 of the keys most recently used; with "
    "accesses spread\nevenly over 1M or 20M keys few of them hit it, so these rows measure "
    "RocksDB, not the cache. What\nthe cache changes here is that writes reach RocksDB in "
    "write batches as it evicts them.\n";

int runBenchmark(const Options& options) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  fs::create_directories(options.dataDir);
  const std::string loadBefore = loadAverage();
  const auto benchmarkStart = std::chrono::steady_clock::now();
  const RocksDbKeyedStore::Options storeOptions;
  int runNumber = 0;
  auto directoryFor = [&](const std::string& name) {
    return (fs::path(options.dataDir) / ("state-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(++runNumber) + "-" + name))
        .string();
  };

  std::vector<SizeResult> sizes;
  for (int64_t keys : options.keys) {
    SizeResult size;
    size.keys = keys;
    size.repetitions = keys >= kLargeKeys ? options.largeRepetitions : options.repetitions;
    size.rows.resize(shortRows().size());
    std::printf("%s keys, %s accesses per run:\n",
                withThousands(static_cast<uint64_t>(keys)).c_str(),
                withThousands(static_cast<uint64_t>(options.accesses)).c_str());
    // The repetitions go round all the rows, so that a noisy neighbour slows every row alike.
    for (int rep = 1; rep <= size.repetitions; ++rep) {
      for (size_t i = 0; i < shortRows().size(); ++i) {
        const RowSpec& spec = shortRows()[i];
        RowResult& r = size.rows[i];
        const std::string what = spec.name + " #" + std::to_string(rep);
        const std::string directory =
            spec.backend == "heap" ? std::string() : directoryFor(spec.name);
        std::vector<std::string> args = {"--child",      spec.name,
                                         "--child-keys", std::to_string(keys),
                                         "--accesses",   std::to_string(options.accesses)};
        if (!directory.empty())
          args.insert(args.end(), {"--directory", directory});
        Measurement m = runChild(self, what, directory, args);
        std::printf(
            "  %-20s load %7.2f s  %s accesses/s (%.2f s)  peak RSS %.0f MB  CPU %.1f s%s\n",
            what.c_str(), m.report.loadSeconds, perSecond(rateOf(m)).c_str(),
            m.report.accessSeconds, m.peakRssMb, m.cpuSeconds,
            m.report.diskBytes > 0 ? ("  disk " + mib(m.report.diskBytes) + " MiB").c_str() : "");
        std::fflush(stdout);
        if (rep == 1 || m.report.accessSeconds < r.best.report.accessSeconds)
          r.best = m;
        r.maxPeakRssMb = std::max(r.maxPeakRssMb, m.peakRssMb);
        r.slowestAccessSeconds = std::max(r.slowestAccessSeconds, m.report.accessSeconds);
        r.totalWallSeconds += m.wallSeconds;
        if (m.report.checksum != size.rows[0].best.report.checksum) {
          throw std::runtime_error(what + " read counts summing to " +
                                   std::to_string(m.report.checksum) + ", the heap baseline " +
                                   std::to_string(size.rows[0].best.report.checksum));
        }
      }
    }
    sizes.push_back(std::move(size));
  }

  bool bigRan = false;
  Measurement big;
  if (options.big) {
    std::printf(
        "Big run: %s keys x %d B values, %s MiB block cache + %s MiB write buffers + %s MiB state "
        "cache\n",
        withThousands(static_cast<uint64_t>(options.bigKeys)).c_str(), options.bigValueBytes,
        mib(kBigBlockCacheBytes).c_str(), mib(kBigWriteBufferBytes).c_str(),
        mib(kBigStateCacheBytes).c_str());
    std::fflush(stdout);
    const std::string directory = directoryFor("big");
    big = runChild(self, "big", directory,
                   {"--child", "big", "--child-keys", std::to_string(options.bigKeys),
                    "--big-value-bytes", std::to_string(options.bigValueBytes), "--big-reads",
                    std::to_string(options.bigReads), "--directory", directory});
    bigRan = true;
    std::printf(
        "  write %.1f s, %s MiB on disk; %s random reads/s; peak RSS %.0f MB (after writing "
        "%.0f MB); cache usage %s MiB; CPU %.1f s\n",
        big.report.loadSeconds, mib(big.report.diskBytes).c_str(), perSecond(rateOf(big)).c_str(),
        big.peakRssMb, static_cast<double>(big.report.peakAfterLoadKib) / 1024.0,
        mib(big.report.cacheUsageBytes).c_str(), big.cpuSeconds);
  }
  const double totalSeconds = secondsSince(benchmarkStart);
  const std::string loadAfter = loadAverage();

  // The targets: each typed row beside its baseline.
  std::ostringstream targets;
  targets << "| keys | backend | typed `ValueState<int64_t>` accesses/s | baseline accesses/s | "
             "ratio | target | met | peak RSS MB typed / baseline |\n"
          << "|---|---|---:|---:|---:|---:|---|---:|\n";
  std::printf("\n%-5s %-8s %14s %14s %7s %7s %-7s %s\n", "keys", "backend", "typed/s", "baseline/s",
              "ratio", "target", "met", "peak RSS MB typed / baseline");
  bool allMet = true;
  for (const SizeResult& size : sizes) {
    for (size_t i = 0; i < shortRows().size(); ++i) {
      const RowSpec& spec = shortRows()[i];
      if (spec.target <= 0)
        continue;
      const RowResult& typed = size.rows[i];
      const RowResult& baseline = size.rows[static_cast<size_t>(spec.baselineIndex)];
      const double ratio = ratioOf(size, i);
      const bool met = ratio >= spec.target;
      allMet = allMet && met;
      targets << "| " << keysLabel(size.keys) << " | " << spec.backend << " | "
              << perSecond(rateOf(typed.best)) << " | " << perSecond(rateOf(baseline.best)) << " | "
              << formatFixed(ratio, 2) << "x | >= " << formatFixed(spec.target, 1) << "x | "
              << (met ? "yes" : "**no**") << " | " << formatFixed(typed.maxPeakRssMb, 0) << " / "
              << formatFixed(baseline.maxPeakRssMb, 0) << " |\n";
      std::printf("%-5s %-8s %14s %14s %6.2fx %6.1fx %-7s %.0f / %.0f\n",
                  keysLabel(size.keys).c_str(), spec.backend.c_str(),
                  perSecond(rateOf(typed.best)).c_str(), perSecond(rateOf(baseline.best)).c_str(),
                  ratio, spec.target, met ? "yes" : "NO", typed.maxPeakRssMb,
                  baseline.maxPeakRssMb);
    }
  }

  // Every row.
  std::ostringstream table;
  table << "| keys | backend | run | accesses/s | vs baseline | load s | peak RSS MB |\n"
        << "|---|---|---|---:|---:|---:|---:|\n";
  std::printf("\n%-5s %-8s %-42s %12s %12s %8s %12s\n", "keys", "backend", "run", "accesses/s",
              "vs baseline", "load s", "peak RSS MB");
  for (const SizeResult& size : sizes) {
    const std::string k = keysLabel(size.keys);
    for (size_t i = 0; i < shortRows().size(); ++i) {
      const RowSpec& spec = shortRows()[i];
      const RowResult& r = size.rows[i];
      const double ratio = ratioOf(size, i);
      table << "| " << k << " | " << spec.backend << " | " << spec.label << " | "
            << perSecond(rateOf(r.best)) << " | " << formatFixed(ratio, 2) << "x | "
            << formatFixed(r.best.report.loadSeconds, 2) << " | " << formatFixed(r.maxPeakRssMb, 0)
            << " |\n";
      std::printf("%-5s %-8s %-42s %12s %11.2fx %8.2f %12.0f\n", k.c_str(), spec.backend.c_str(),
                  spec.label.c_str(), perSecond(rateOf(r.best)).c_str(), ratio,
                  r.best.report.loadSeconds, r.maxPeakRssMb);
    }
  }
  std::printf("\nTargets (typed heap >= 0.5x, typed RocksDB >= 0.8x): %s\n",
              allMet ? "met" : "NOT all met");
  const int64_t bigBudget = kBigBlockCacheBytes + kBigWriteBufferBytes + kBigStateCacheBytes;
  if (bigRan) {
    std::printf("Big run: peak RSS %.0f MB against a %s MiB budget (%.2fx)\n", big.peakRssMb,
                mib(bigBudget).c_str(),
                big.peakRssMb / (static_cast<double>(bigBudget) / (1 << 20)));
  }
  std::printf("Total time: %.0f s\n", totalSeconds);

  if (options.markdownPath.empty())
    return 0;
  std::ostringstream section;
  section
      << "## Keyed state\n\n"
      << "`benchmarks/state_benchmark.cc` measures ValueState get+update (read a key's count, "
         "add one, write it\nback), each run in its own process. A run loads N distinct "
         "`int64_t` keys (count 0), then times\n"
      << withThousands(static_cast<uint64_t>(options.accesses))
      << " accesses to keys drawn uniformly from them by a deterministic generator (the same "
         "keys\nin every run of one N; the sum of the counts read must agree across runs, and "
         "does). The rows:\n\n"
         "- `typed ValueState<int64_t>`: the typed API on the runtime's backend "
         "(`createKeyedStateBackend`,\n  128 key groups, state from "
         "`RuntimeContext::getState`), accessed as a keyed operator does:\n  serialize the key "
         "into a reused `DataOutput`, `setCurrentKey`, `value()`, `update(v + 1)`.\n"
         "- `baseline: absl::flat_hash_map loop`: find, add, store in an\n  "
         "`absl::flat_hash_map<int64_t, int64_t>` (one lookup per access).\n"
         "- `baseline: raw RocksDB Get + Put`: RocksDB with the settings `RocksDbKeyedStore` "
         "uses (one LRU cache\n  of block cache + write buffers with the memtables charged to "
         "it, whole-key Bloom filters\n  per memtable and per table file (partitioned), index "
         "and filter blocks in the cache, WAL\n  off), an 8-byte key and value.\n"
         "- `RocksDbKeyedStore getValue + putValue`: the byte-level store under the typed "
         "RocksDB state,\n  without the typed layer (key group computed per access, empty "
         "namespace); for locating costs.\n"
         "- `diagnostic: the baseline loop, accesses serialized`: the heap baseline with each "
         "access's key\n  depending on the count the previous one read (the keys stay the "
         "same), so that no access\n  starts before the previous one's cache misses are back: "
         "not a target, a measure of what\n  the baseline gains from overlapping consecutive "
         "accesses.\n\n"
         "The RocksDB runs use the store's default memory ("
      << mib(storeOptions.blockCacheBytes) << " MiB block cache, "
      << mib(storeOptions.writeBufferBytes)
      << " MiB write buffers; the store and the typed state also their "
      << mib(storeOptions.stateCacheBytes)
      << " MiB state cache) and flush and\ncompact after loading (in `load s`; that also empties "
         "the state cache), so each access phase starts from the same SST files.\naccesses/s is "
         "the access phase alone; peak "
         "RSS is `ru_maxrss` from `wait4()` of the run's process\n(largest of the repetitions). "
         "Ratios compare runs of the same invocation, interleaved.\n\n"
      << "- Machine: " << onlineCpus() << " CPUs (nproc), " << cpuModel()
      << "; a shared VM whose other tenants make absolute\n  numbers noisy (the ratios are "
         "steadier: each repetition runs every row back to back)\n"
      << "- Date: " << todayUtc() << "\n"
      << "- Load average (1 min) before / after the runs: " << loadBefore << " / " << loadAfter
      << "\n"
      << "- Repetitions: " << options.repetitions << " below " << keysLabel(kLargeKeys) << " keys, "
      << options.largeRepetitions << " from " << keysLabel(kLargeKeys)
      << " (best access phase; largest peak RSS)\n"
      << "- Time for the whole benchmark: " << formatFixed(totalSeconds, 0) << " s\n";
  for (const SizeResult& size : sizes) {
    section << "- " << keysLabel(size.keys) << " keys, slowest repetition:";
    for (size_t i = 0; i < shortRows().size(); ++i) {
      const RowResult& r = size.rows[i];
      section << (i == 0 ? " " : ", ") << shortRows()[i].name << " "
              << perSecond(static_cast<double>(r.best.report.accesses) / r.slowestAccessSeconds)
              << "/s";
    }
    section << "; RocksDB data after load: "
            << mib(size.rows[kBaselineRocksDb].best.report.diskBytes) << " MiB raw, "
            << mib(size.rows[kTypedRocksDb].best.report.diskBytes)
            << " MiB typed; wall time per run: ";
    for (size_t i = 0; i < shortRows().size(); ++i) {
      section << (i == 0 ? "" : ", ") << shortRows()[i].name << " "
              << formatFixed(size.rows[i].totalWallSeconds / size.repetitions, 1) << " s";
    }
    section << "\n";
  }
  section << "\nTargets (from the issue): typed heap ValueState >= 0.5x its baseline, typed "
             "RocksDB ValueState >= 0.8x\nits baseline: "
          << (allMet ? "**met**" : "**not all met**") << ".\n\n"
          << targets.str() << "\nEvery row:\n\n"
          << table.str() << "\n";
  for (const SizeResult& size : sizes) {
    auto nanos = [&](int row) {
      return formatFixed(1e9 / rateOf(size.rows[static_cast<size_t>(row)].best), 0);
    };
    section << "At " << keysLabel(size.keys) << " keys a heap access takes " << nanos(kBaselineHeap)
            << " ns in the baseline loop, " << nanos(kSerialHeap)
            << " ns when each waits for the previous one, and " << nanos(1)
            << " ns through the typed API.\n";
  }
  section << "\n" << kHeapExplanation << "\n";
  if (std::none_of(sizes.begin(), sizes.end(),
                   [](const SizeResult& s) { return s.keys >= 20'000'000; })) {
    section << "20M keys are not in this report: they are opt-in (`--keys 1000000 20000000`), "
               "as one run of the\nthree RocksDB rows at 20M takes about half an hour here.\n\n";
  }
  if (bigRan) {
    const double budgetMb = static_cast<double>(bigBudget) / (1 << 20);
    section << "Larger than memory: a `ValueState<std::string>` on the RocksDB backend with a "
            << mib(kBigBlockCacheBytes) << " MiB block cache, " << mib(kBigWriteBufferBytes)
            << " MiB of write buffers and a " << mib(kBigStateCacheBytes) << " MiB state cache (a "
            << mib(bigBudget) << " MiB budget) takes "
            << withThousands(static_cast<uint64_t>(options.bigKeys)) << " values of "
            << options.bigValueBytes << " incompressible bytes ("
            << formatFixed(static_cast<double>(options.bigKeys) * options.bigValueBytes / 1e9, 2)
            << " GB), then reads " << withThousands(static_cast<uint64_t>(options.bigReads))
            << " random keys and checks every byte.\n\n"
            << "| phase | time s | rate | peak RSS MB | RSS / budget |\n"
            << "|---|---:|---:|---:|---:|\n"
            << "| write | " << formatFixed(big.report.loadSeconds, 1) << " | "
            << perSecond(static_cast<double>(options.bigKeys) / big.report.loadSeconds)
            << " puts/s, "
            << formatFixed(static_cast<double>(options.bigKeys) * options.bigValueBytes /
                               (1 << 20) / big.report.loadSeconds,
                           0)
            << " MiB/s | "
            << formatFixed(static_cast<double>(big.report.peakAfterLoadKib) / 1024, 0) << " | "
            << formatFixed(static_cast<double>(big.report.peakAfterLoadKib) / 1024 / budgetMb, 2)
            << "x |\n"
            << "| random reads | " << formatFixed(big.report.accessSeconds, 1) << " | "
            << perSecond(rateOf(big)) << " gets/s | " << formatFixed(big.peakRssMb, 0) << " | "
            << formatFixed(big.peakRssMb / budgetMb, 2) << "x |\n\n"
            << "On disk after writing: " << mib(big.report.diskBytes)
            << " MiB. RSS before opening the store: "
            << formatFixed(static_cast<double>(big.report.rssBeforeKib) / 1024, 0)
            << " MB. At the end the cache held " << mib(big.report.cacheUsageBytes)
            << " MiB (memtables " << mib(big.report.memTableBytes)
            << " MiB of it). Peak RSS is the whole process (`ru_maxrss`); the page cache is not "
               "in it.\nWall time of the big run: "
            << formatFixed(big.wallSeconds, 0) << " s, CPU " << formatFixed(big.cpuSeconds, 0)
            << " s.\n\n";
  } else {
    section << "Larger than memory: not run (`--no-big`).\n\n";
  }
  section << "Reproduce: `ninja -C build state_benchmark && build/benchmarks/state_benchmark`\n"
          << "(`--keys 1000000 20000000` adds 20M keys, about half an hour more; `--accesses N`, "
             "`--repetitions N`,\n`--large-repetitions N` for 10M keys and more, `--no-big` to "
             "skip the larger-than-memory run,\n`--big-keys N` and `--big-value-bytes N` for its "
             "size).\n";
  writeMarkdownSection(options.markdownPath, "## Keyed state", section.str());
  std::printf("Wrote the Keyed state section of %s\n", options.markdownPath.c_str());
  return 0;
}

}  // namespace

}  // namespace brook::benchmarks

int main(int argc, char** argv) {
  brook::benchmarks::Options options;
  CLI::App app{
      "Keyed state benchmark: ValueState-style get+update on the heap and in RocksDB against "
      "hand-written baselines, and a RocksDB run larger than its memory."};
  app.add_option("--keys", options.keys, "Distinct keys of the short runs (one or more counts)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--accesses", options.accesses, "Timed get+update accesses per short run")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--large-repetitions", options.largeRepetitions,
                 "Runs of each short kind at 10M keys and more; the best one counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--repetitions", options.repetitions,
                 "Runs of each short kind; the best one counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_flag("--big,!--no-big", options.big, "Run the larger-than-memory RocksDB run")
      ->capture_default_str();
  app.add_option("--big-keys", options.bigKeys, "Keys written by the big run")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--big-value-bytes", options.bigValueBytes, "Value size of the big run")
      ->capture_default_str()
      ->check(CLI::Range(8, 1 << 20));
  app.add_option("--big-reads", options.bigReads, "Random reads of the big run")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--data-dir", options.dataDir, "Folder of the RocksDB directories")
      ->capture_default_str();
  app.add_option("--markdown", options.markdownPath,
                 "Markdown file whose Keyed state section is written; empty: none")
      ->capture_default_str();
  // The child mode, for the runs that this program starts in processes of their own.
  app.add_option("--child", options.child)->group("");
  app.add_option("--child-keys", options.childKeys)->group("");
  app.add_option("--directory", options.directory)->group("");
  app.add_option("--result-fd", options.resultFd)->group("");
  CLI11_PARSE(app, argc, argv);

  try {
    return options.child.empty() ? brook::benchmarks::runBenchmark(options)
                                 : brook::benchmarks::runChildMode(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
