#include "state/rocksdb_keyed_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <system_error>
#include <utility>

#include <absl/strings/str_cat.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "state/internal/byte_reader.h"
#include "state/internal/rocksdb_settings.h"
#include "state/rocksdb_state_cache.h"

namespace brook::state {

namespace {

using internal::appendLengthPrefixed;
using internal::ByteReader;

// The largest key group the two-byte prefix can hold.
constexpr int kMaxKeyGroup = 0xFFFF;
// A restore writes in batches of about this size, or a quarter of the write buffers if less.
constexpr size_t kRestoreBatchBytes = 4 << 20;
// The most states one store holds.
constexpr int kMaxStates = 1 << 16;
// The most entries of one map that a read puts into the state cache at once.
constexpr size_t kMapScanEntries = 64;
// At most this many strings of lists read before wait to hold the next list read's elements.
constexpr size_t kMaxSpareStrings = 1024;

absl::string_view toAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

rocksdb::Slice toSlice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

std::string_view toView(const rocksdb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

/// Converts a RocksDB status, prefixing `context`. Corruption is DataLoss; I/O errors (a full
/// disk, say) are Unavailable, since a restarted task may succeed elsewhere.
absl::Status toAbslStatus(const rocksdb::Status& s, std::string_view context) {
  std::string message = absl::StrCat(toAbsl(context), ": ", s.ToString());
  if (s.IsCorruption()) {
    return absl::DataLossError(message);
  }
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(message);
  }
  if (s.IsInvalidArgument()) {
    return absl::InvalidArgumentError(message);
  }
  return absl::InternalError(message);
}

/// Appends the (key group, key, namespace) prefix of the key layout in the header.
void appendKeyPrefix(std::string* out,
                     int keyGroup,
                     std::string_view key,
                     std::string_view stateNamespace) {
  out->push_back(static_cast<char>((keyGroup >> 8) & 0xFF));
  out->push_back(static_cast<char>(keyGroup & 0xFF));
  appendLengthPrefixed(out, key);
  appendLengthPrefixed(out, stateNamespace);
}

/// The prefix extractor of a map state's column family: a key's map row, the key group, key and
/// namespace that every entry of one map begins with. With it, the Bloom filters of the
/// memtables and table files hold each row's prefix beside the whole keys, so that the first
/// read of a map that RocksDB does not hold (a new key's) skips the skip list and the files
/// instead of seeking in each. Iterators that cross rows must seek in total order.
class MapRowPrefix final : public rocksdb::SliceTransform {
 public:
  // Stored in the table files' properties: a file written under another name is read without
  // its prefix filter.
  const char* Name() const override { return "brook.MapRowPrefix"; }

  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), rowPrefixLength(toView(key))};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return rowPrefixLength(toView(key)) != 0;
  }

 private:
  // The length of the row prefix that `key` begins with, or 0 if it does not parse as one.
  static size_t rowPrefixLength(std::string_view key) {
    if (key.size() < 2) {
      return 0;
    }
    ByteReader reader(key.substr(2));
    std::string_view part;
    if (!reader.readLengthPrefixed(&part) || !reader.readLengthPrefixed(&part)) {
      return 0;
    }
    return 2 + reader.position();
  }
};

/// The two-byte encoding of `keyGroup`, the bound of its prefix range.
std::string keyGroupBound(int keyGroup) {
  std::string bound;
  bound.push_back(static_cast<char>((keyGroup >> 8) & 0xFF));
  bound.push_back(static_cast<char>(keyGroup & 0xFF));
  return bound;
}

/// The iterator bounds of the keys of the key groups in `range`: from the first key group's
/// prefix to the next key group's (unbounded above after the last key group). Not copyable: the
/// slices that ReadOptions point to are its own.
class KeyGroupBounds {
 public:
  explicit KeyGroupBounds(KeyGroupRange range)
      : lower_(keyGroupBound(range.start)),
        upper_(range.end < kMaxKeyGroup ? keyGroupBound(range.end + 1) : ""),
        lowerSlice_(lower_),
        upperSlice_(upper_) {}
  KeyGroupBounds(const KeyGroupBounds&) = delete;
  KeyGroupBounds& operator=(const KeyGroupBounds&) = delete;

  void applyTo(rocksdb::ReadOptions& options) const {
    // Across map rows: the rows' prefix filters must not skip files (see MapRowPrefix).
    options.total_order_seek = true;
    options.iterate_lower_bound = &lowerSlice_;
    if (!upper_.empty()) {
      options.iterate_upper_bound = &upperSlice_;
    }
  }
  /// Where an iterator seeks to.
  const rocksdb::Slice& lower() const { return lowerSlice_; }

 private:
  const std::string lower_;
  const std::string upper_;
  const rocksdb::Slice lowerSlice_;
  const rocksdb::Slice upperSlice_;
};

/// The smallest key greater than every key that starts with `prefix`, or empty when there is
/// none (the prefix is all 0xFF bytes).
std::string prefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xFF) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

/// A RocksDB key split into its parts; `userKey` is what follows the namespace.
struct DecodedKey {
  int keyGroup = 0;
  std::string_view key;
  std::string_view stateNamespace;
  std::string_view userKey;
};

bool decodeKey(std::string_view bytes, DecodedKey* out) {
  if (bytes.size() < 2) {
    return false;
  }
  out->keyGroup = (static_cast<uint8_t>(bytes[0]) << 8) | static_cast<uint8_t>(bytes[1]);
  ByteReader r(bytes.substr(2));
  if (!r.readLengthPrefixed(&out->key) || !r.readLengthPrefixed(&out->stateNamespace)) {
    return false;
  }
  out->userKey = r.remaining();
  return true;
}

/// Splits a stored list into its elements (views into `bytes`); false if it does not decode.
bool decodeList(std::string_view bytes, std::vector<std::string_view>* elements) {
  elements->clear();
  ByteReader r(bytes);
  while (!r.empty()) {
    std::string_view element;
    if (!r.readLengthPrefixed(&element)) {
      return false;
    }
    elements->push_back(element);
  }
  return true;
}

/// The merge operator of list state: a stored list and every operand are concatenations of
/// length-prefixed elements, so merging is concatenation, with no parsing.
class ListConcatenateOperator : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    size_t size = in.existing_value != nullptr ? in.existing_value->size() : 0;
    for (const rocksdb::Slice& operand : in.operand_list) {
      size += operand.size();
    }
    out->new_value.clear();
    out->new_value.reserve(size);
    if (in.existing_value != nullptr) {
      out->new_value.append(in.existing_value->data(), in.existing_value->size());
    }
    for (const rocksdb::Slice& operand : in.operand_list) {
      out->new_value.append(operand.data(), operand.size());
    }
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/,
                         const std::deque<rocksdb::Slice>& operands,
                         std::string* newValue,
                         rocksdb::Logger* /*logger*/) const override {
    size_t size = 0;
    for (const rocksdb::Slice& operand : operands) {
      size += operand.size();
    }
    newValue->reserve(size);
    for (const rocksdb::Slice& operand : operands) {
      newValue->append(operand.data(), operand.size());
    }
    return true;
  }

  bool AllowSingleOperand() const override { return true; }
  const char* Name() const override { return "brook.ListConcatenate"; }
};

// ---------------------------------------------------------------------------------------------
// State time-to-live

using Clock = std::function<int64_t()>;

int64_t systemTimeMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// What `expiredAtOrBefore` returns for a state without a time-to-live: nothing expires.
constexpr int64_t kNeverExpires = std::numeric_limits<int64_t>::min();

/// Entries last accessed at or before the returned time have expired at `now` under a
/// time-to-live of `ttlMillis` (as the TTL facades decide: `lastAccess <= now - ttl`).
int64_t expiredAtOrBefore(int64_t ttlMillis, int64_t now) {
  if (ttlMillis <= 0 || now < kNeverExpires + ttlMillis) {
    return kNeverExpires;
  }
  return now - ttlMillis;
}

/// Whether a stored TtlValue (value, map user value or list element), whose last 8 bytes are
/// its last-access time (int64, little-endian), has expired. Bytes too short to hold a time are
/// kept: reading them fails on access, with an error that names the state.
bool isExpired(std::string_view ttlValue, int64_t expiredAtOrBefore) {
  if (expiredAtOrBefore == kNeverExpires || ttlValue.size() < 8) {
    return false;
  }
  uint64_t time = 0;
  for (size_t i = 0; i < 8; ++i) {
    time |= static_cast<uint64_t>(static_cast<uint8_t>(ttlValue[ttlValue.size() - 8 + i]))
            << (8 * i);
  }
  return static_cast<int64_t>(time) <= expiredAtOrBefore;
}

/// Drops the expired entries of a state with a time-to-live from the files a compaction writes:
/// expired values and map entries, and the expired elements of lists (a list with none left
/// goes). Made per compaction by TtlCompactionFilterFactory and used by that compaction's
/// thread only; it must not throw (RocksDB is not exception-safe).
class TtlCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(StateKind kind, int64_t expiredAtOrBefore)
      : kind_(kind), expiredAtOrBefore_(expiredAtOrBefore) {}

  Decision FilterV2(int /*level*/,
                    const rocksdb::Slice& /*key*/,
                    ValueType type,
                    const rocksdb::Slice& value,
                    std::string* newValue,
                    std::string* /*skipUntil*/) const override {
    if (type == ValueType::kBlobIndex) {
      return Decision::kKeep;
    }
    if (kind_ != StateKind::kList) {
      // Value and map states are only ever Put, never merged.
      return type == ValueType::kValue && isExpired(toView(value), expiredAtOrBefore_)
                 ? Decision::kRemove
                 : Decision::kKeep;
    }
    // A stored list and each merge operand (what addToList appends) are both concatenations of
    // length-prefixed elements, so both are filtered alike; filtering the operands is a bonus
    // (those visible to a RocksDB snapshot are not passed here). A value that the compaction
    // merges from a stored list and later operands is not passed here either (RocksDB's
    // contract): the next compaction filters it.
    return filterList(toView(value), newValue);
  }

  const char* Name() const override { return "brook.TtlCompactionFilter"; }

 private:
  /// Two passes, so that a list without expired elements is neither copied nor allocated for.
  Decision filterList(std::string_view list, std::string* newValue) const {
    size_t total = 0;
    size_t expired = 0;
    ByteReader r(list);
    while (!r.empty()) {
      std::string_view element;
      if (!r.readLengthPrefixed(&element)) {
        return Decision::kKeep;  // corrupt: reading the list reports it, naming the state
      }
      ++total;
      expired += isExpired(element, expiredAtOrBefore_) ? 1 : 0;
    }
    if (expired == 0) {
      return Decision::kKeep;
    }
    if (expired == total) {
      return Decision::kRemove;
    }
    newValue->clear();
    ByteReader again(list);
    while (!again.empty()) {
      std::string_view element;
      again.readLengthPrefixed(&element);
      if (!isExpired(element, expiredAtOrBefore_)) {
        appendLengthPrefixed(newValue, element);
      }
    }
    return Decision::kChangeValue;
  }

  StateKind kind_;
  int64_t expiredAtOrBefore_;
};

/// Makes the TTL compaction filter of one state's column family for each compaction, or none
/// while the state has no time-to-live. The column family exists before its time-to-live is
/// known (it is set when the operator registers the state, on the store's thread), hence the
/// shared atomic. Called on RocksDB's compaction threads.
class TtlCompactionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  TtlCompactionFilterFactory(StateKind kind,
                             std::shared_ptr<const std::atomic<int64_t>> ttlMillis,
                             std::shared_ptr<const Clock> clock)
      : kind_(kind), ttlMillis_(std::move(ttlMillis)), clock_(std::move(clock)) {}

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    const int64_t ttl = ttlMillis_->load(std::memory_order_relaxed);
    if (ttl <= 0) {
      return nullptr;
    }
    // One time for the whole compaction: what expires while it runs goes in a later one.
    return std::make_unique<TtlCompactionFilter>(kind_, expiredAtOrBefore(ttl, (*clock_)()));
  }

  const char* Name() const override { return "brook.TtlCompactionFilterFactory"; }

 private:
  StateKind kind_;
  std::shared_ptr<const std::atomic<int64_t>> ttlMillis_;
  std::shared_ptr<const Clock> clock_;
};

/// The column family of state `name` of `kind`, registered as the store's `index`-th state.
std::string columnFamilyName(int index, StateKind kind, std::string_view name) {
  return absl::StrCat(index, "-", toAbsl(stateKindName(kind)), "-", toAbsl(name));
}

/// The parts of a column family name made by columnFamilyName; false if it is not one.
bool parseColumnFamilyName(std::string_view cf, int* index, StateKind* kind, std::string* name) {
  const size_t dash = cf.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 9) {
    return false;
  }
  *index = 0;
  for (char c : cf.substr(0, dash)) {
    if (c < '0' || c > '9') {
      return false;
    }
    *index = *index * 10 + (c - '0');
  }
  const std::string_view rest = cf.substr(dash + 1);
  for (StateKind k : {StateKind::kValue, StateKind::kList, StateKind::kMap}) {
    const std::string_view kindName = stateKindName(k);
    if (rest.size() > kindName.size() + 1 && rest.substr(0, kindName.size()) == kindName &&
        rest[kindName.size()] == '-') {
      *kind = k;
      name->assign(rest.substr(kindName.size() + 1));
      return true;
    }
  }
  return false;
}

/// A registered state as a snapshot sees it.
struct StateInfo {
  std::string name;
  StateKind kind;
  rocksdb::ColumnFamilyHandle* columnFamily;
  // The state's time-to-live in milliseconds (0: none), shared with its compaction filter
  // factory: written on the store's thread, read on compaction threads.
  std::shared_ptr<std::atomic<int64_t>> ttlMillis;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Impl: the RocksDB instance, shared by the store, its snapshots and its map iterators.

class RocksDbKeyedStore::Impl {
 public:
  Impl(std::string directory, const Options& options)
      : directory_(std::move(directory)),
        stateCache_(options.stateCacheBytes),
        clock_(std::make_shared<const Clock>(options.clock ? options.clock
                                                           : Clock(systemTimeMillis))) {
    // RocksDB counts every operation in a thread-local perf context unless told not to; the
    // store reads none of it, and the counting is a share of each state access.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    internal::RocksDbSettings settings = internal::rocksDbSettings(options);
    cache_ = std::move(settings.cache);
    writeBufferManager_ = std::move(settings.writeBufferManager);
    dbOptions_ = std::move(settings.db);
    columnFamilyOptions_ = std::move(settings.columnFamily);
    restoreBatchBytes_ =
        std::min(kRestoreBatchBytes, static_cast<size_t>(options.writeBufferBytes) / 4);
    // The cache writes back in key order, and its keys fall between the memtable's: an insert
    // that starts from where the last one of its key group went walks past a few entries, where
    // RocksDB's own sequential hint gives up on any key that is not right after the last one
    // and searches from the top (~2 KiB of hints a memtable at 128 key groups).
    columnFamilyOptions_.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(2));
    listColumnFamilyOptions_ = columnFamilyOptions_;
    listColumnFamilyOptions_.merge_operator = std::make_shared<ListConcatenateOperator>();

    writeOptions_.disableWAL = true;
  }

  ~Impl() {
    absl::Status s = closeAndRemove();
    if (!s.ok()) {
      getLogger("state")->warn("{}", s.ToString());
    }
  }

  /// The options of a state's column family: its kind's merge operator, and a compaction filter
  /// that drops the entries `ttlMillis` says have expired.
  rocksdb::ColumnFamilyOptions columnFamilyOptionsFor(
      StateKind kind, const std::shared_ptr<std::atomic<int64_t>>& ttlMillis) const {
    rocksdb::ColumnFamilyOptions options =
        kind == StateKind::kList ? listColumnFamilyOptions_ : columnFamilyOptions_;
    options.compaction_filter_factory =
        std::make_shared<TtlCompactionFilterFactory>(kind, ttlMillis, clock_);
    if (kind == StateKind::kMap) {
      options.prefix_extractor = std::make_shared<MapRowPrefix>();
    }
    return options;
  }

  /// The column families of the RocksDB files in `directory`, with the states they hold in
  /// `states` (by index, every index from 0 present once); the default column family first.
  absl::Status describeColumnFamilies(const std::string& directory,
                                      std::vector<rocksdb::ColumnFamilyDescriptor>* descriptors,
                                      std::vector<StateInfo>* states) const {
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(dbOptions_, directory, &names);
    if (!s.ok()) {
      return absl::DataLossError(
          toAbslStatus(s, absl::StrCat("reading the column families of '", directory, "'"))
              .message());
    }
    descriptors->clear();
    descriptors->emplace_back(rocksdb::kDefaultColumnFamilyName, columnFamilyOptions_);
    std::map<int, StateInfo> byIndex;
    for (const std::string& name : names) {
      if (name == rocksdb::kDefaultColumnFamilyName) {
        continue;
      }
      int index = 0;
      StateInfo info{};
      if (!parseColumnFamilyName(name, &index, &info.kind, &info.name) ||
          byIndex.count(index) != 0) {
        return absl::DataLossError(absl::StrCat("RocksDB files in '", directory,
                                                "' hold a column family '", name,
                                                "' that is not a state of this store"));
      }
      info.ttlMillis = std::make_shared<std::atomic<int64_t>>(0);
      descriptors->emplace_back(name, columnFamilyOptionsFor(info.kind, info.ttlMillis));
      byIndex.emplace(index, std::move(info));
    }
    states->clear();
    for (auto& [index, info] : byIndex) {
      if (index != static_cast<int>(states->size())) {
        return absl::DataLossError(absl::StrCat(
            "RocksDB files in '", directory, "' lack the column family of state ", states->size()));
      }
      states->push_back(std::move(info));
    }
    return absl::OkStatus();
  }

  /// The store's database options, for opening RocksDB files that exist already.
  rocksdb::DBOptions existingFilesOptions() const {
    rocksdb::DBOptions options = dbOptions_;
    options.create_if_missing = false;
    options.error_if_exists = false;
    return options;
  }

  /// Replaces the empty database with the RocksDB files in `from` (moved into the store's
  /// directory) and registers their states.
  absl::Status adoptFiles(const std::string& from) {
    namespace fs = std::filesystem;
    const std::string context =
        absl::StrCat("restoring RocksDB store '", directory_, "' from the files in '", from, "'");
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    std::vector<StateInfo> states;
    BROOK_RETURN_IF_ERROR(describeColumnFamilies(from, &descriptors, &states));
    dropScanIterators();
    rocksdb::Status s = db_->Close();
    db_.reset();
    if (!s.ok()) {
      return toAbslStatus(s, context);
    }
    std::error_code ec;
    fs::remove_all(directory_, ec);
    if (!ec) {
      fs::rename(from, directory_, ec);
    }
    if (ec) {
      return absl::UnavailableError(absl::StrCat(context, ": ", ec.message()));
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(existingFilesOptions(), directory_, descriptors, &handles, &db);
    if (!s.ok()) {
      absl::Status error = toAbslStatus(s, context);
      // The store must stay usable (and closable): an empty database again.
      fs::remove_all(directory_, ec);
      fs::create_directories(directory_, ec);
      if (absl::Status reopened = openDb(); !reopened.ok()) {
        getLogger("state")->warn("{}", reopened.ToString());
      }
      return s.IsIOError() || s.IsCorruption() ? absl::DataLossError(error.message()) : error;
    }
    db_.reset(db);
    // The store reaches the default column family through the database alone.
    db_->DestroyColumnFamilyHandle(handles[0]);
    for (size_t i = 0; i < states.size(); ++i) {
      states[i].columnFamily = handles[i + 1];
      stateIndex_.emplace(states[i].name, static_cast<int>(i));
    }
    states_ = std::move(states);
    return absl::OkStatus();
  }

  absl::Status openDb() {
    rocksdb::Options options(dbOptions_, columnFamilyOptions_);
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, directory_, &db);
    if (!s.ok()) {
      return toAbslStatus(s, absl::StrCat("opening RocksDB in '", directory_, "'"));
    }
    db_.reset(db);
    return absl::OkStatus();
  }

  /// Closes RocksDB and removes the directory; idempotent.
  absl::Status closeAndRemove() {
    absl::Status result;
    dropScanIterators();
    if (db_ != nullptr) {
      for (StateInfo& state : states_) {
        db_->DestroyColumnFamilyHandle(state.columnFamily);
        state.columnFamily = nullptr;
      }
      rocksdb::Status s = db_->Close();
      if (!s.ok()) {
        result = toAbslStatus(s, absl::StrCat("closing RocksDB in '", directory_, "'"));
      }
      db_.reset();
    }
    if (!removed_) {
      removed_ = true;
      std::error_code ec;
      std::filesystem::remove_all(directory_, ec);
      if (ec && result.ok()) {
        result = absl::UnavailableError(
            absl::StrCat("removing RocksDB directory '", directory_, "': ", ec.message()));
      }
    }
    return result;
  }

  absl::StatusOr<const StateInfo*> state(StateId id) const {
    if (id.index < 0 || static_cast<size_t>(id.index) >= states_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("RocksDB store '", directory_, "': unknown state id ", id.index));
    }
    return &states_[static_cast<size_t>(id.index)];
  }

  absl::StatusOr<const StateInfo*> state(StateId id, StateKind kind) const {
    BROOK_ASSIGN_OR_RETURN(const StateInfo* found, state(id));
    const StateInfo& state = *found;
    if (state.kind != kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("RocksDB store '", directory_, "': state '", state.name, "' is ",
                       toAbsl(stateKindName(state.kind)), " state, not ",
                       toAbsl(stateKindName(kind)), " state"));
    }
    return &state;
  }

  absl::Status checkKeyGroup(int keyGroup) const {
    if (keyGroup < 0 || keyGroup > kMaxKeyGroup) {
      return absl::InvalidArgumentError(absl::StrCat("RocksDB store '", directory_, "': key group ",
                                                     keyGroup, " is outside [0, ", kMaxKeyGroup,
                                                     "]"));
    }
    return absl::OkStatus();
  }

  /// Fills keyScratch_ with the key prefix; checks the state and key group.
  absl::StatusOr<const StateInfo*> prepareKey(StateId id,
                                              StateKind kind,
                                              int keyGroup,
                                              std::string_view key,
                                              std::string_view stateNamespace) {
    BROOK_ASSIGN_OR_RETURN(const StateInfo* info, state(id, kind));
    BROOK_RETURN_IF_ERROR(checkKeyGroup(keyGroup));
    keyScratch_.clear();
    appendKeyPrefix(&keyScratch_, keyGroup, key, stateNamespace);
    return info;
  }

  absl::Status error(const rocksdb::Status& s, const StateInfo& state, std::string_view what) {
    return toAbslStatus(s, absl::StrCat("RocksDB store '", directory_, "': ", toAbsl(what),
                                        " of state '", state.name, "'"));
  }

  absl::StatusOr<bool> get(const StateInfo& state, std::string* value, std::string_view what) {
    rocksdb::PinnableSlice slice;
    rocksdb::Status s = db_->Get(readOptions_, state.columnFamily, keyScratch_, &slice);
    if (s.IsNotFound()) {
      return false;
    }
    if (!s.ok()) {
      return error(s, state, what);
    }
    if (value != nullptr) {
      value->assign(slice.data(), slice.size());
    }
    return true;
  }

  absl::Status put(const StateInfo& state, std::string_view value, std::string_view what) {
    dropScanIterators();
    rocksdb::Status s = db_->Put(writeOptions_, state.columnFamily, keyScratch_, toSlice(value));
    return s.ok() ? absl::OkStatus() : error(s, state, what);
  }

  absl::Status remove(const StateInfo& state, std::string_view what) {
    dropScanIterators();
    rocksdb::Status s = db_->Delete(writeOptions_, state.columnFamily, keyScratch_);
    return s.ok() ? absl::OkStatus() : error(s, state, what);
  }

  absl::Status merge(const StateInfo& state, std::string_view operand, std::string_view what) {
    dropScanIterators();
    rocksdb::Status s =
        db_->Merge(writeOptions_, state.columnFamily, keyScratch_, toSlice(operand));
    return s.ok() ? absl::OkStatus() : error(s, state, what);
  }

  /// Adds to `batch` a delete of every map entry under the prefix in keyScratch_.
  /// An iterator of `state` over the keys that begin with the prefix in keyScratch_, at the
  /// first of them. Its bound lives in `*upper` and `*upperSlice`, which must outlive it.
  std::unique_ptr<rocksdb::Iterator> seekPrefix(const StateInfo& state,
                                                std::string* upper,
                                                rocksdb::Slice* upperSlice) {
    *upper = prefixSuccessor(keyScratch_);
    *upperSlice = rocksdb::Slice(*upper);
    rocksdb::ReadOptions options = rowReadOptions();
    if (!upper->empty()) {
      options.iterate_upper_bound = upperSlice;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, state.columnFamily));
    it->Seek(keyScratch_);
    return it;
  }

  absl::Status deleteMapEntries(const StateInfo& state, rocksdb::WriteBatch* batch) {
    std::string upper;
    rocksdb::Slice upperSlice;
    std::unique_ptr<rocksdb::Iterator> it = seekPrefix(state, &upper, &upperSlice);
    for (; it->Valid(); it->Next()) {
      rocksdb::Status s = batch->Delete(state.columnFamily, it->key());
      if (!s.ok()) {
        return error(s, state, "clearing a map");
      }
    }
    if (!it->status().ok()) {
      return error(it->status(), state, "clearing a map");
    }
    return absl::OkStatus();
  }

  absl::Status write(rocksdb::WriteBatch* batch, std::string_view what) {
    dropScanIterators();
    rocksdb::Status s = db_->Write(writeOptions_, batch);
    if (!s.ok()) {
      return toAbslStatus(s, absl::StrCat("RocksDB store '", directory_, "': ", toAbsl(what)));
    }
    return absl::OkStatus();
  }

  // The state cache (state/rocksdb_state_cache.h). A row key is the state's index (2 bytes,
  // big-endian) and the RocksDB key prefix of keyScratch_; a map entry's RocksDB key is the
  // prefix and its user key.

  /// Makes `*out` the start of a row key of state `index`, which the RocksDB key prefix follows.
  static void startRowKey(std::string* out, int index) {
    out->clear();
    out->push_back(static_cast<char>((index >> 8) & 0xFF));
    out->push_back(static_cast<char>(index & 0xFF));
  }

  /// The cached row of state `index` for the prefix in keyScratch_ (rowKey_ is its key), or null.
  CachedRow* findRow(int index) {
    startRowKey(&rowKey_, index);
    rowKey_.append(keyScratch_);
    return stateCache_.find(rowKey_);
  }

  /// The map entries of `row`, made (and charged) on first use.
  CachedMapEntries& mapOf(CachedRow& row) {
    if (row.map == nullptr) {
      row.map = std::make_unique<CachedMapEntries>();
      stateCache_.charge(row, RocksDbStateCache::kMapOverhead);
    }
    return *row.map;
  }
  CachedRow& rowForWrite(int index) {
    CachedRow* row = findRow(index);
    return row != nullptr ? *row : stateCache_.insert(rowKey_);
  }

  /// The row of a value or list state for keyScratch_, to write without reading it: a row made
  /// for it does not know whether RocksDB holds a value.
  CachedRow& valueRowForWrite(int index) {
    if (CachedRow* row = findRow(index); row != nullptr) {
      return *row;
    }
    CachedRow& row = stateCache_.insert(rowKey_);
    row.value.storedUnknown = true;
    return row;
  }

  /// Whether RocksDB may hold a value for keyScratch_ in `state`, from what its memtables and
  /// block cache hold (the filters and index blocks of its table files among them): false
  /// only when it holds none, or a tombstone.
  bool mayHold(const StateInfo& state) {
    return db_->KeyMayExist(readOptions_, state.columnFamily, toSlice(keyScratch_),
                            &mayHoldScratch_);
  }

  /// The row of a value or list state for keyScratch_, read from RocksDB when not cached.
  absl::StatusOr<CachedRow*> loadValueRow(int index,
                                          const StateInfo& state,
                                          std::string_view what) {
    if (CachedRow* row = findRow(index); row != nullptr) {
      if (row->value.appended) {
        BROOK_RETURN_IF_ERROR(completeAppendedList(*row, state, what));
      }
      return row;
    }
    BROOK_ASSIGN_OR_RETURN(bool found, get(state, &valueScratch_, what));
    CachedRow& row = stateCache_.insert(rowKey_);
    row.value.stored = found;
    if (found) {
      row.value.bytes = valueScratch_;
      row.value.present = true;
      stateCache_.charge(row, static_cast<int64_t>(row.value.bytes.heapBytes()));
    }
    return &row;
  }

  /// Makes the row of appended list elements for keyScratch_ the whole list: what RocksDB holds,
  /// then the elements.
  absl::Status completeAppendedList(CachedRow& row, const StateInfo& state, std::string_view what) {
    BROOK_ASSIGN_OR_RETURN(bool found, get(state, &valueScratch_, what));
    row.value.appended = false;
    row.value.stored = found;
    if (found) {
      const auto before = static_cast<int64_t>(row.value.bytes.heapBytes());
      row.value.bytes.prepend(valueScratch_);
      stateCache_.charge(row, static_cast<int64_t>(row.value.bytes.heapBytes()) - before);
    }
    return absl::OkStatus();
  }

  /// Sets the value of a value or list state's row for keyScratch_, to `bytes` or (not
  /// `present`) absent.
  void setValue(const StateInfo& state, CachedRow& row, std::string_view bytes, bool present) {
    if (!present && row.value.storedUnknown) {
      // A value written without a read is removed before it reached RocksDB (a key that lives
      // briefly, say): whether RocksDB holds an older one, its memtables and the table files'
      // Bloom filters mostly tell without reading a data block. (Removing a value that was
      // never read nor written here writes a tombstone without asking.)
      if (row.value.present) {
        row.value.stored = mayHold(state);
      }
      row.value.storedUnknown = false;
    }
    const auto before = static_cast<int64_t>(row.value.bytes.heapBytes());
    row.value.bytes.assign(bytes);
    row.value.present = present;
    row.value.appended = false;
    // Removing what RocksDB does not hold writes nothing.
    row.value.dirty = present || row.value.stored;
    stateCache_.charge(row, static_cast<int64_t>(row.value.bytes.heapBytes()) - before);
  }

  /// Appends length-prefixed elements (`elements`) to a list state's cached row.
  void appendToList(CachedRow& row, std::string_view elements) {
    const auto before = static_cast<int64_t>(row.value.bytes.heapBytes());
    if (!row.value.present) {
      row.value.bytes.clear();
    }
    row.value.bytes.append(elements);
    row.value.present = true;
    row.value.dirty = true;
    stateCache_.charge(row, static_cast<int64_t>(row.value.bytes.heapBytes()) - before);
  }

  /// Reads the entries of the map whose prefix is in keyScratch_ into its cached `row` (but
  /// not over the entries the row holds), up to kMapScanEntries: a map that has no more becomes
  /// complete, so that its later reads, of present and absent user keys alike, stay in the
  /// cache. One scan costs about what one point read of an absent key costs.
  absl::Status scanMapIntoRow(CachedRow& row,
                              int index,
                              const StateInfo& state,
                              std::string_view what) {
    CachedMapEntries& map = mapOf(row);
    map.scanned = true;
    rocksdb::Iterator* it = scanIterator(index, state);
    it->Seek(keyScratch_);
    int64_t added = 0;
    for (size_t scanned = 0; it->Valid() && scanned < kMapScanEntries; it->Next(), ++scanned) {
      const std::string_view userKey = toView(it->key()).substr(keyScratch_.size());
      auto [entry, inserted] = map.entries.try_emplace(toAbsl(userKey));
      if (inserted) {
        entry->second.bytes.assign(toView(it->value()));
        entry->second.present = true;
        added += static_cast<int64_t>(userKey.size() + entry->second.bytes.heapBytes()) +
                 RocksDbStateCache::kEntryOverhead;
      }
    }
    map.complete = !it->Valid() && it->status().ok();
    stateCache_.charge(row, added);
    if (!it->status().ok()) {
      absl::Status failed = error(it->status(), state, what);
      dropScanIterators();
      return failed;
    }
    return absl::OkStatus();
  }

  /// The iterator that scans map rows of state `index` (a map state), made on first use and
  /// kept until the store next writes to RocksDB: making one takes about as long as the seek of
  /// a row that RocksDB does not hold, and the rows of new keys are such rows. It stops at the
  /// end of the row it seeks to (the map column families' prefix is the row, MapRowPrefix).
  rocksdb::Iterator* scanIterator(int index, const StateInfo& state) {
    if (scanIterators_.size() <= static_cast<size_t>(index)) {
      scanIterators_.resize(static_cast<size_t>(index) + 1);
    }
    std::unique_ptr<rocksdb::Iterator>& it = scanIterators_[static_cast<size_t>(index)];
    if (it == nullptr) {
      it.reset(db_->NewIterator(rowReadOptions(), state.columnFamily));
    }
    return it.get();
  }

  /// The read options of an iterator within one map row: a map state's filters hold the row's
  /// prefix (MapRowPrefix), and the iterator ends with the row.
  rocksdb::ReadOptions rowReadOptions() const {
    rocksdb::ReadOptions options = readOptions_;
    options.total_order_seek = false;
    options.prefix_same_as_start = true;
    return options;
  }

  /// Drops the scan iterators: they read RocksDB as it was when they were made, and hold on to
  /// its memtables and files.
  void dropScanIterators() { scanIterators_.clear(); }

  /// The entry of `userKey` in the map row for the prefix in keyScratch_, read from RocksDB when
  /// not cached; null when the map is known not to hold it.
  absl::StatusOr<const CachedValue*> loadMapEntry(int index,
                                                  const StateInfo& state,
                                                  std::string_view userKey,
                                                  std::string_view what) {
    CachedRow* row = findRow(index);
    if (row == nullptr || (!row->mapComplete() && !row->mapScanned())) {
      if (row == nullptr) {
        row = &stateCache_.insert(rowKey_);
      }
      BROOK_RETURN_IF_ERROR(scanMapIntoRow(*row, index, state, what));
    }
    CachedMapEntries& map = *row->map;  // made by the scan
    if (auto it = map.entries.find(toAbsl(userKey)); it != map.entries.end()) {
      return &it->second;
    }
    if (map.complete) {
      return nullptr;
    }
    keyScratch_.append(userKey);
    BROOK_ASSIGN_OR_RETURN(bool found, get(state, &valueScratch_, what));
    auto [it, inserted] = map.entries.try_emplace(toAbsl(userKey));
    CachedValue& entry = it->second;
    if (found) {
      entry.bytes = valueScratch_;
      entry.present = true;
    }
    stateCache_.charge(*row, static_cast<int64_t>(userKey.size() + entry.bytes.heapBytes()) +
                                 RocksDbStateCache::kEntryOverhead);
    return &entry;
  }

  /// Sets the entry of `userKey` in the map row for the prefix in keyScratch_.
  void setMapEntry(int index, std::string_view userKey, std::string_view bytes, bool present) {
    CachedRow& row = rowForWrite(index);
    auto [it, inserted] = mapOf(row).entries.try_emplace(toAbsl(userKey));
    CachedValue& entry = it->second;
    const int64_t before =
        inserted ? -static_cast<int64_t>(userKey.size()) - RocksDbStateCache::kEntryOverhead
                 : static_cast<int64_t>(entry.bytes.heapBytes());
    entry.bytes.assign(bytes);
    entry.present = present;
    entry.dirty = true;
    stateCache_.charge(row, static_cast<int64_t>(entry.bytes.heapBytes()) - before);
  }

  /// The index of the state whose row `rowKey` is (its first 2 bytes, big-endian).
  static size_t stateIndexOfRow(std::string_view rowKey) {
    return (static_cast<size_t>(static_cast<uint8_t>(rowKey[0])) << 8) |
           static_cast<uint8_t>(rowKey[1]);
  }

  /// Adds the write back of a dirty cached value under RocksDB key `key` to `batch`: its
  /// appended list elements merged, its bytes put, or its removal.
  absl::Status addWriteBack(rocksdb::WriteBatch* batch,
                            const StateInfo& state,
                            std::string_view key,
                            const CachedValue& value) {
    rocksdb::Status s =
        value.appended  ? batch->Merge(state.columnFamily, toSlice(key), toSlice(value.bytes))
        : value.present ? batch->Put(state.columnFamily, toSlice(key), toSlice(value.bytes))
                        : batch->Delete(state.columnFamily, toSlice(key));
    return s.ok() ? absl::OkStatus() : error(s, state, "writing back cached state");
  }

  /// Writes the cache's dirty entries (of its old generation only, when `oldOnly`) to RocksDB,
  /// in batches of at most restoreBatchBytes_. The entries go in key order per state: inserting
  /// into a memtable next to the previous insert is several times cheaper than at a random
  /// place (RocksDB's skip list starts from where the last insert went).
  absl::Status writeBack(bool oldOnly) {
    using Dirty = WriteBackEntry;
    std::vector<Dirty>& dirty = writeBackEntries_;
    std::string& keys = writeBackKeys_;
    dirty.clear();
    keys.clear();
    stateCache_.forEachDirty(
        oldOnly, [&](std::string_view rowKey, std::string_view userKey, const CachedValue& value) {
          const size_t offset = keys.size();
          keys.append(rowKey.substr(2));
          keys.append(userKey);
          dirty.push_back(Dirty{stateIndexOfRow(rowKey), offset, keys.size() - offset, &value});
        });
    if (dirty.empty()) {
      return absl::OkStatus();
    }
    const auto keyOf = [&](const Dirty& d) {
      return std::string_view(keys).substr(d.keyOffset, d.keySize);
    };
    // A row lives in one generation only, so every key is written once.
    std::sort(dirty.begin(), dirty.end(), [&](const Dirty& a, const Dirty& b) {
      return a.state != b.state ? a.state < b.state : keyOf(a) < keyOf(b);
    });
    rocksdb::WriteBatch batch;
    for (const Dirty& d : dirty) {
      BROOK_RETURN_IF_ERROR(addWriteBack(&batch, states_[d.state], keyOf(d), *d.value));
      if (batch.GetDataSize() >= restoreBatchBytes_) {
        BROOK_RETURN_IF_ERROR(write(&batch, "writing cached state back"));
        batch.Clear();
      }
    }
    return batch.Count() > 0 ? write(&batch, "writing cached state back") : absl::OkStatus();
  }

  /// Evicts the old generation once the cache is full.
  absl::Status evictIfFull() {
    if (!stateCache_.full()) {
      return absl::OkStatus();
    }
    BROOK_RETURN_IF_ERROR(writeBack(/*oldOnly=*/true));
    stateCache_.rotate();
    return absl::OkStatus();
  }

  /// Writes every dirty cached entry to RocksDB, so that RocksDB holds the whole state.
  absl::Status writeBackAll() {
    if (stateCache_.bytes() == 0) {
      return absl::OkStatus();
    }
    BROOK_RETURN_IF_ERROR(writeBack(/*oldOnly=*/false));
    stateCache_.markClean();
    return absl::OkStatus();
  }

  /// Appends the length-prefixed elements in valueScratch_ to the list state's entry for
  /// keyScratch_, without reading the list: in the cache (to the list it holds, else to a row of
  /// appended elements that its write back merges into RocksDB's), else through the merge
  /// operator.
  absl::Status addToList(int index, const StateInfo& state) {
    if (stateCache_.enabled()) {
      CachedRow* row = findRow(index);
      if (row == nullptr) {
        row = &stateCache_.insert(rowKey_);
        row->value.present = true;
        row->value.appended = true;
      }
      appendToList(*row, valueScratch_);
      return evictIfFull();
    }
    return merge(state, valueScratch_, "adding to the list");
  }

  /// Writes the dirty entries of one map row to RocksDB (the prefix is in keyScratch_).
  absl::Status writeBackMapRow(CachedRow& row) {
    if (row.map == nullptr) {
      return absl::OkStatus();
    }
    const StateInfo& state = states_[stateIndexOfRow(rowKey_)];
    const std::string_view prefix = std::string_view(rowKey_).substr(2);
    rocksdb::WriteBatch batch;
    for (auto& [userKey, value] : row.map->entries) {
      if (value.dirty) {
        writeBackKey_.assign(prefix);
        writeBackKey_.append(userKey);
        BROOK_RETURN_IF_ERROR(addWriteBack(&batch, state, writeBackKey_, value));
      }
    }
    if (batch.Count() > 0) {
      BROOK_RETURN_IF_ERROR(write(&batch, "writing cached state back"));
    }
    for (auto& [userKey, value] : row.map->entries) {
      value.dirty = false;
    }
    return absl::OkStatus();
  }

  const std::string directory_;
  RocksDbStateCache stateCache_;
  // The clock of state time-to-live, shared with the compaction filter factories.
  const std::shared_ptr<const Clock> clock_;
  rocksdb::DBOptions dbOptions_;
  rocksdb::ColumnFamilyOptions columnFamilyOptions_;
  rocksdb::ColumnFamilyOptions listColumnFamilyOptions_;
  rocksdb::ReadOptions readOptions_;
  std::string mayHoldScratch_;
  /// Strings of lists read before, whose memory the next list read reuses (at most
  /// kMaxSpareStrings).
  std::vector<std::string> spareStrings_;
  rocksdb::WriteOptions writeOptions_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBufferManager_;
  std::unique_ptr<rocksdb::DB> db_;
  // By state index; after db_, so that they go first.
  std::vector<std::unique_ptr<rocksdb::Iterator>> scanIterators_;
  size_t restoreBatchBytes_ = kRestoreBatchBytes;
  bool removed_ = false;

  // Owned by the store's thread; snapshots copy what they need.
  std::vector<StateInfo> states_;
  std::map<std::string, int, std::less<>> stateIndex_;
  std::string keyScratch_;
  std::string valueScratch_;
  std::string rowKey_;
  std::string prefetchRowKey_;  // prefetchRow's, apart from the accesses' keys
  std::string writeBackKey_;
  // writeBack's scratch: the dirty entries' RocksDB keys, one after the other, and per entry its
  // state, key and value.
  struct WriteBackEntry {
    size_t state;
    size_t keyOffset;
    size_t keySize;
    const CachedValue* value;
  };
  std::string writeBackKeys_;
  std::vector<WriteBackEntry> writeBackEntries_;
};

namespace {

/// The asynchronous phase of a RocksDB snapshot: a RocksDB snapshot and the states that existed
/// at the synchronous phase, with the times at or before which their entries had expired then
/// (the snapshot leaves those out). `write` runs on any one thread at a time.
///
/// A compaction that runs before `write` may already have dropped entries that expired after
/// the synchronous phase (RocksDB's compaction filters ignore snapshots); a restore would
/// consider them expired anyway.
class RocksDbKeyedStateSnapshot : public KeyedStateSnapshot {
 public:
  RocksDbKeyedStateSnapshot(std::shared_ptr<RocksDbKeyedStore::Impl> impl,
                            KeyGroupRange range,
                            std::vector<StateInfo> states,
                            std::unique_ptr<const KeyGroupedSnapshotContent> extra)
      : impl_(std::move(impl)),
        range_(range),
        states_(std::move(states)),
        extra_(std::move(extra)),
        snapshot_(impl_->db_->GetSnapshot()) {
    const int64_t now = (*impl_->clock_)();
    for (const StateInfo& state : states_) {
      expiredAtOrBefore_.push_back(
          expiredAtOrBefore(state.ttlMillis->load(std::memory_order_relaxed), now));
    }
  }

  ~RocksDbKeyedStateSnapshot() override { impl_->db_->ReleaseSnapshot(snapshot_); }

  KeyGroupRange keyGroupRange() const override { return range_; }

  absl::Status write(KeyedStateSnapshotWriter& writer) override {
    if (range_.size() == 0) {
      return absl::OkStatus();
    }
    const KeyGroupBounds bounds(range_);
    // Runs on the task's checkpoint thread, whose perf context counts otherwise (see Impl).
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    // A snapshot reads everything once; keep the task's working set in the cache.
    options.fill_cache = false;
    bounds.applyTo(options);

    // One iterator per state, merged by key group: each key group's section holds the entries
    // of every state in it, as the format wants, with one pass over each column family.
    std::vector<std::unique_ptr<rocksdb::Iterator>> iterators;
    std::vector<DecodedKey> current(states_.size());
    for (const StateInfo& state : states_) {
      iterators.emplace_back(impl_->db_->NewIterator(options, state.columnFamily));
      iterators.back()->Seek(bounds.lower());
    }
    for (size_t i = 0; i < states_.size(); ++i) {
      BROOK_RETURN_IF_ERROR(decodeCurrent(i, *iterators[i], &current[i]));
    }

    // The extra content's key groups in the range, merged with the store's.
    std::span<const int> extraGroups;
    if (extra_ != nullptr) {
      extraGroups = extra_->keyGroups();
      auto first = std::lower_bound(extraGroups.begin(), extraGroups.end(), range_.start);
      auto last = std::upper_bound(first, extraGroups.end(), range_.end);
      extraGroups = std::span<const int>(first, last);
    }
    size_t nextExtra = 0;

    std::vector<std::string_view> elements;
    while (true) {
      int keyGroup = -1;
      for (size_t i = 0; i < states_.size(); ++i) {
        if (iterators[i]->Valid() && (keyGroup < 0 || current[i].keyGroup < keyGroup)) {
          keyGroup = current[i].keyGroup;
        }
      }
      if (nextExtra < extraGroups.size() && (keyGroup < 0 || extraGroups[nextExtra] < keyGroup)) {
        keyGroup = extraGroups[nextExtra];
      }
      if (keyGroup < 0) {
        break;
      }
      BROOK_RETURN_IF_ERROR(writer.beginKeyGroup(keyGroup));
      for (size_t i = 0; i < states_.size(); ++i) {
        rocksdb::Iterator& it = *iterators[i];
        if (!it.Valid() || current[i].keyGroup != keyGroup) {
          continue;
        }
        const StateInfo& state = states_[i];
        const int64_t expired = expiredAtOrBefore_[i];
        // A state whose entries have all expired costs nothing: the writer writes its record
        // with its first entry, and skips lists without elements.
        BROOK_RETURN_IF_ERROR(writer.beginState(state.name, state.kind));
        for (; it.Valid() && current[i].keyGroup == keyGroup;) {
          const DecodedKey& key = current[i];
          const std::string_view value = toView(it.value());
          switch (state.kind) {
            case StateKind::kValue:
              if (!isExpired(value, expired)) {
                BROOK_RETURN_IF_ERROR(writer.writeValue(key.key, key.stateNamespace, value));
              }
              break;
            case StateKind::kList:
              if (!decodeList(value, &elements)) {
                return corrupt(state, keyGroup, "a stored list does not decode");
              }
              if (expired != kNeverExpires) {
                std::erase_if(elements, [&](std::string_view element) {
                  return isExpired(element, expired);
                });
              }
              BROOK_RETURN_IF_ERROR(writer.writeList(key.key, key.stateNamespace,
                                                     std::span<const std::string_view>(elements)));
              break;
            case StateKind::kMap:
              if (!isExpired(value, expired)) {
                BROOK_RETURN_IF_ERROR(
                    writer.writeMapEntry(key.key, key.stateNamespace, key.userKey, value));
              }
              break;
          }
          it.Next();
          BROOK_RETURN_IF_ERROR(decodeCurrent(i, it, &current[i]));
        }
      }
      if (nextExtra < extraGroups.size() && extraGroups[nextExtra] == keyGroup) {
        BROOK_RETURN_IF_ERROR(extra_->writeKeyGroup(keyGroup, writer));
        ++nextExtra;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status corrupt(const StateInfo& state, int keyGroup, std::string_view what) const {
    return absl::DataLossError(absl::StrCat("snapshot of RocksDB store '", impl_->directory_,
                                            "', state '", state.name, "', key group ", keyGroup,
                                            ": ", toAbsl(what)));
  }

  /// Decodes the iterator's current key into `key`, or checks why it is not valid.
  absl::Status decodeCurrent(size_t i, rocksdb::Iterator& it, DecodedKey* key) const {
    const StateInfo& state = states_[i];
    if (!it.Valid()) {
      if (!it.status().ok()) {
        return toAbslStatus(it.status(),
                            absl::StrCat("snapshot of RocksDB store '", impl_->directory_,
                                         "', state '", state.name, "'"));
      }
      return absl::OkStatus();
    }
    if (!decodeKey(toView(it.key()), key) ||
        (state.kind != StateKind::kMap && !key->userKey.empty())) {
      return corrupt(state, key->keyGroup, "a stored key does not decode");
    }
    return absl::OkStatus();
  }

  std::shared_ptr<RocksDbKeyedStore::Impl> impl_;
  KeyGroupRange range_;
  std::vector<StateInfo> states_;
  std::unique_ptr<const KeyGroupedSnapshotContent> extra_;
  const rocksdb::Snapshot* snapshot_;
  // By state, as StateInfo::ttlMillis made it at the synchronous phase.
  std::vector<int64_t> expiredAtOrBefore_;
};

/// The asynchronous phase of a native snapshot: the files of a RocksDB checkpoint of the whole
/// store, and the extra content its `write` writes. Removes the checkpoint's directory when
/// destroyed.
class RocksDbNativeSnapshot : public KeyedStateSnapshot {
 public:
  RocksDbNativeSnapshot(KeyGroupRange range,
                        std::unique_ptr<const KeyGroupedSnapshotContent> extra,
                        NativeSnapshotFiles files)
      : range_(range), extra_(std::move(extra)), files_(std::move(files)) {}

  ~RocksDbNativeSnapshot() override {
    std::error_code ec;
    std::filesystem::remove_all(files_.directory, ec);
    if (ec) {
      getLogger("state")->warn("cannot remove the native snapshot in '{}': {}", files_.directory,
                               ec.message());
    }
  }

  const NativeSnapshotFiles* nativeFiles() const override { return &files_; }
  KeyGroupRange keyGroupRange() const override { return range_; }

  absl::Status write(KeyedStateSnapshotWriter& writer) override {
    if (extra_ == nullptr || range_.size() == 0) {
      return absl::OkStatus();
    }
    for (int keyGroup : extra_->keyGroups()) {
      if (keyGroup < range_.start || keyGroup > range_.end) {
        continue;
      }
      BROOK_RETURN_IF_ERROR(writer.beginKeyGroup(keyGroup));
      BROOK_RETURN_IF_ERROR(extra_->writeKeyGroup(keyGroup, writer));
    }
    return absl::OkStatus();
  }

 private:
  KeyGroupRange range_;
  std::unique_ptr<const KeyGroupedSnapshotContent> extra_;
  NativeSnapshotFiles files_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// RocksDbMapIterator

struct RocksDbMapIterator::Impl {
  // Declared first so that it is destroyed last: the iterator must go before RocksDB.
  std::shared_ptr<RocksDbKeyedStore::Impl> store;
  std::string upper;
  rocksdb::Slice upperSlice;
  size_t prefixSize = 0;
  std::unique_ptr<rocksdb::Iterator> iterator;
};

RocksDbMapIterator::RocksDbMapIterator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksDbMapIterator::~RocksDbMapIterator() = default;

bool RocksDbMapIterator::valid() const {
  return impl_->iterator->Valid();
}

void RocksDbMapIterator::next() {
  impl_->iterator->Next();
}

std::string_view RocksDbMapIterator::userKey() const {
  return toView(impl_->iterator->key()).substr(impl_->prefixSize);
}

std::string_view RocksDbMapIterator::value() const {
  return toView(impl_->iterator->value());
}

absl::Status RocksDbMapIterator::status() const {
  const rocksdb::Status& s = impl_->iterator->status();
  if (s.ok()) {
    return absl::OkStatus();
  }
  return toAbslStatus(
      s, absl::StrCat("iterating a map in RocksDB store '", impl_->store->directory_, "'"));
}

// ---------------------------------------------------------------------------------------------
// RocksDbKeyedStore

absl::StatusOr<RocksDbKeyedStore::Options> RocksDbKeyedStore::Options::fromConfiguration(
    const Configuration& config) {
  Options options;
  BROOK_ASSIGN_OR_RETURN(
      options.blockCacheBytes,
      config.getBytes(config_keys::kRocksDbBlockCacheSize, options.blockCacheBytes));
  BROOK_ASSIGN_OR_RETURN(
      options.writeBufferBytes,
      config.getBytes(config_keys::kRocksDbWriteBufferSize, options.writeBufferBytes));
  BROOK_ASSIGN_OR_RETURN(
      options.stateCacheBytes,
      config.getBytes(config_keys::kRocksDbStateCacheSize, options.stateCacheBytes));
  BROOK_ASSIGN_OR_RETURN(int64_t jobs, config.getInt(config_keys::kRocksDbMaxBackgroundJobs,
                                                     options.maxBackgroundJobs));
  if (options.blockCacheBytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kRocksDbBlockCacheSize, " must be positive"));
  }
  if (options.writeBufferBytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kRocksDbWriteBufferSize, " must be positive"));
  }
  if (options.stateCacheBytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kRocksDbStateCacheSize, " cannot be negative"));
  }
  if (jobs < 1 || jobs > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kRocksDbMaxBackgroundJobs, " must be in [1, 1024], not ", jobs));
  }
  options.maxBackgroundJobs = static_cast<int>(jobs);
  return options;
}

RocksDbKeyedStore::RocksDbKeyedStore(std::string directory, std::shared_ptr<Impl> impl)
    : directory_(std::move(directory)), impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<RocksDbKeyedStore>> RocksDbKeyedStore::open(std::string directory,
                                                                           Options options) {
  if (options.blockCacheBytes <= 0 || options.writeBufferBytes <= 0 ||
      options.maxBackgroundJobs < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RocksDB store '", directory, "': block cache (", options.blockCacheBytes,
        " bytes), write buffers (", options.writeBufferBytes, " bytes) and background jobs (",
        options.maxBackgroundJobs, ") must be positive"));
  }
  if (options.stateCacheBytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("RocksDB store '", directory,
                                                   "': the state cache (", options.stateCacheBytes,
                                                   " bytes) cannot be negative"));
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path path(directory);
  if (fs::exists(path, ec) && (!fs::is_directory(path, ec) || !fs::is_empty(path, ec))) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create RocksDB directory '", directory,
                     "': it already exists and is not an empty directory"));
  }
  fs::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create RocksDB directory '", directory, "': ", ec.message()));
  }
  // From here on, the Impl removes the directory if anything fails.
  auto impl = std::make_shared<Impl>(directory, options);
  BROOK_RETURN_IF_ERROR(impl->openDb());
  return std::unique_ptr<RocksDbKeyedStore>(new RocksDbKeyedStore(std::move(directory), impl));
}

RocksDbKeyedStore::~RocksDbKeyedStore() {
  absl::Status s = close();
  if (!s.ok()) {
    getLogger("state")->warn("{}", s.ToString());
  }
}

absl::Status RocksDbKeyedStore::close() {
  if (impl_ == nullptr) {
    return absl::OkStatus();
  }
  absl::Status result;
  if (impl_.use_count() == 1) {
    result = impl_->closeAndRemove();
  } else {
    getLogger("state")->info(
        "RocksDB store '{}' closes when its remaining snapshots and iterators are destroyed",
        directory_);
  }
  impl_.reset();
  return result;
}

absl::Status RocksDbKeyedStore::checkOpen() const {
  if (impl_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("RocksDB store '", directory_, "' is closed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StateId> RocksDbKeyedStore::registerState(std::string_view name, StateKind kind) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  Impl& impl = *impl_;
  if (auto it = impl.stateIndex_.find(name); it != impl.stateIndex_.end()) {
    const StateInfo& existing = impl.states_[static_cast<size_t>(it->second)];
    if (existing.kind != kind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "state '", toAbsl(name), "' is registered as ", toAbsl(stateKindName(existing.kind)),
          " state and cannot be registered again as ", toAbsl(stateKindName(kind)), " state"));
    }
    return StateId{it->second};
  }
  if (kind != StateKind::kValue && kind != StateKind::kList && kind != StateKind::kMap) {
    return absl::InvalidArgumentError(
        absl::StrCat("state '", toAbsl(name), "' has invalid kind ", static_cast<int>(kind)));
  }
  // Column family names are private to the store; the index keeps them distinct from each other
  // and from RocksDB's "default". The state cache names a state by its index in two bytes.
  const int index = static_cast<int>(impl.states_.size());
  if (index > kMaxStates - 1) {
    return absl::InvalidArgumentError(absl::StrCat("RocksDB store '", directory_,
                                                   "': cannot register state '", toAbsl(name),
                                                   "': it already holds ", kMaxStates, " states"));
  }
  // The time-to-live comes later, from setTimeToLive; the factory reads it per compaction.
  auto ttlMillis = std::make_shared<std::atomic<int64_t>>(0);
  const rocksdb::ColumnFamilyOptions options = impl.columnFamilyOptionsFor(kind, ttlMillis);
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s =
      impl.db_->CreateColumnFamily(options, columnFamilyName(index, kind, name), &handle);
  if (!s.ok()) {
    return toAbslStatus(
        s, absl::StrCat("RocksDB store '", directory_, "': creating the column family of state '",
                        toAbsl(name), "'"));
  }
  impl.states_.push_back(StateInfo{std::string(name), kind, handle, std::move(ttlMillis)});
  impl.stateIndex_.emplace(std::string(name), index);
  return StateId{index};
}

absl::StatusOr<StateId> RocksDbKeyedStore::findState(std::string_view name) const {
  BROOK_RETURN_IF_ERROR(checkOpen());
  auto it = impl_->stateIndex_.find(name);
  if (it == impl_->stateIndex_.end()) {
    return absl::NotFoundError(
        absl::StrCat("RocksDB store '", directory_, "' has no state '", toAbsl(name), "'"));
  }
  return StateId{it->second};
}

absl::Status RocksDbKeyedStore::setTimeToLive(StateId state, int64_t ttlMillis) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info, impl_->state(state));
  if (ttlMillis < 0) {
    return absl::InvalidArgumentError(absl::StrCat("RocksDB store '", directory_, "': state '",
                                                   info->name, "' cannot have a negative ",
                                                   "time-to-live (", ttlMillis, " ms)"));
  }
  info->ttlMillis->store(ttlMillis, std::memory_order_relaxed);
  return absl::OkStatus();
}

void RocksDbKeyedStore::prefetchRow(StateId state,
                                    int keyGroup,
                                    std::string_view key,
                                    std::string_view stateNamespace) {
  if (impl_ == nullptr || !impl_->stateCache_.enabled() || state.index < 0 ||
      state.index > 0xFFFF || keyGroup < 0 || keyGroup > kMaxKeyGroup) {
    return;
  }
  std::string& rowKey = impl_->prefetchRowKey_;
  Impl::startRowKey(&rowKey, state.index);
  appendKeyPrefix(&rowKey, keyGroup, key, stateNamespace);
  impl_->stateCache_.prefetch(rowKey);
}

absl::StatusOr<bool> RocksDbKeyedStore::getValue(StateId state,
                                                 int keyGroup,
                                                 std::string_view key,
                                                 std::string_view stateNamespace,
                                                 std::string* value) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info, impl_->prepareKey(state, StateKind::kValue,
                                                                  keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    return impl.get(*info, value, "reading the value");
  }
  BROOK_ASSIGN_OR_RETURN(CachedRow * row,
                         impl.loadValueRow(state.index, *info, "reading the value"));
  const bool present = row->value.present;
  if (present && value != nullptr) {
    value->assign(row->value.bytes);
  }
  BROOK_RETURN_IF_ERROR(impl.evictIfFull());
  return present;
}

absl::Status RocksDbKeyedStore::putValue(StateId state,
                                         int keyGroup,
                                         std::string_view key,
                                         std::string_view stateNamespace,
                                         std::string_view value) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info, impl_->prepareKey(state, StateKind::kValue,
                                                                  keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    return impl.put(*info, value, "writing the value");
  }
  impl.setValue(*info, impl.valueRowForWrite(state.index), value, /*present=*/true);
  return impl.evictIfFull();
}

absl::Status RocksDbKeyedStore::removeValue(StateId state,
                                            int keyGroup,
                                            std::string_view key,
                                            std::string_view stateNamespace) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info, impl_->prepareKey(state, StateKind::kValue,
                                                                  keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    return impl.remove(*info, "removing the value");
  }
  impl.setValue(*info, impl.valueRowForWrite(state.index), {}, /*present=*/false);
  return impl.evictIfFull();
}

absl::StatusOr<bool> RocksDbKeyedStore::getList(StateId state,
                                                int keyGroup,
                                                std::string_view key,
                                                std::string_view stateNamespace,
                                                std::vector<std::string>* elements) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kList, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  std::string_view stored;
  if (impl.stateCache_.enabled()) {
    BROOK_ASSIGN_OR_RETURN(CachedRow * row,
                           impl.loadValueRow(state.index, *info, "reading the list"));
    if (row->value.present) {
      stored = row->value.bytes;
    }
  } else {
    BROOK_ASSIGN_OR_RETURN(bool found, impl.get(*info, &impl.valueScratch_, "reading the list"));
    if (found) {
      stored = impl.valueScratch_;
    }
  }
  // The strings `elements` held go to the spare ones, whose memory the elements read reuse.
  std::vector<std::string>& spare = impl.spareStrings_;
  for (std::string& element : *elements) {
    if (spare.size() < kMaxSpareStrings && element.capacity() > std::string().capacity()) {
      spare.push_back(std::move(element));
    }
  }
  elements->clear();
  ByteReader r(stored);
  while (!r.empty()) {
    std::string_view element;
    if (!r.readLengthPrefixed(&element)) {
      return absl::DataLossError(absl::StrCat("RocksDB store '", directory_, "': list state '",
                                              info->name, "' holds a corrupt list in key group ",
                                              keyGroup));
    }
    if (spare.empty()) {
      elements->emplace_back(element);
    } else {
      elements->push_back(std::move(spare.back()));
      spare.pop_back();
      elements->back().assign(element);
    }
  }
  // After decoding: an eviction may drop the row that `stored` points into.
  BROOK_RETURN_IF_ERROR(impl.evictIfFull());
  return !elements->empty();
}

absl::Status RocksDbKeyedStore::addToList(StateId state,
                                          int keyGroup,
                                          std::string_view key,
                                          std::string_view stateNamespace,
                                          std::string_view element) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kList, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  impl.valueScratch_.clear();
  appendLengthPrefixed(&impl.valueScratch_, element);
  return impl.addToList(state.index, *info);
}

absl::Status RocksDbKeyedStore::addAllToList(StateId state,
                                             int keyGroup,
                                             std::string_view key,
                                             std::string_view stateNamespace,
                                             std::span<const std::string> elements) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kList, keyGroup, key, stateNamespace));
  if (elements.empty()) {
    return absl::OkStatus();
  }
  Impl& impl = *impl_;
  impl.valueScratch_.clear();
  for (const std::string& element : elements) {
    appendLengthPrefixed(&impl.valueScratch_, element);
  }
  return impl.addToList(state.index, *info);
}

absl::Status RocksDbKeyedStore::updateList(StateId state,
                                           int keyGroup,
                                           std::string_view key,
                                           std::string_view stateNamespace,
                                           std::span<const std::string> elements) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kList, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  impl.valueScratch_.clear();
  for (const std::string& element : elements) {
    appendLengthPrefixed(&impl.valueScratch_, element);
  }
  if (impl.stateCache_.enabled()) {
    impl.setValue(*info, impl.valueRowForWrite(state.index), impl.valueScratch_, !elements.empty());
    return impl.evictIfFull();
  }
  if (elements.empty()) {
    return impl.remove(*info, "clearing the list");
  }
  return impl.put(*info, impl.valueScratch_, "replacing the list");
}

absl::Status RocksDbKeyedStore::clearList(StateId state,
                                          int keyGroup,
                                          std::string_view key,
                                          std::string_view stateNamespace) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kList, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (impl.stateCache_.enabled()) {
    impl.setValue(*info, impl.valueRowForWrite(state.index), {}, /*present=*/false);
    return impl.evictIfFull();
  }
  return impl.remove(*info, "clearing the list");
}

absl::StatusOr<bool> RocksDbKeyedStore::getMapValue(StateId state,
                                                    int keyGroup,
                                                    std::string_view key,
                                                    std::string_view stateNamespace,
                                                    std::string_view userKey,
                                                    std::string* value) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kMap, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    impl.keyScratch_.append(userKey);
    return impl.get(*info, value, "reading a map entry");
  }
  BROOK_ASSIGN_OR_RETURN(const CachedValue* entry,
                         impl.loadMapEntry(state.index, *info, userKey, "reading a map entry"));
  const bool present = entry != nullptr && entry->present;
  if (present && value != nullptr) {
    value->assign(entry->bytes);
  }
  BROOK_RETURN_IF_ERROR(impl.evictIfFull());
  return present;
}

absl::Status RocksDbKeyedStore::putMapValue(StateId state,
                                            int keyGroup,
                                            std::string_view key,
                                            std::string_view stateNamespace,
                                            std::string_view userKey,
                                            std::string_view value) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kMap, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    impl.keyScratch_.append(userKey);
    return impl.put(*info, value, "writing a map entry");
  }
  impl.setMapEntry(state.index, userKey, value, /*present=*/true);
  return impl.evictIfFull();
}

absl::Status RocksDbKeyedStore::removeMapValue(StateId state,
                                               int keyGroup,
                                               std::string_view key,
                                               std::string_view stateNamespace,
                                               std::string_view userKey) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kMap, keyGroup, key, stateNamespace));
  Impl& impl = *impl_;
  if (!impl.stateCache_.enabled()) {
    impl.keyScratch_.append(userKey);
    return impl.remove(*info, "removing a map entry");
  }
  impl.setMapEntry(state.index, userKey, {}, /*present=*/false);
  return impl.evictIfFull();
}

absl::StatusOr<bool> RocksDbKeyedStore::containsMapKey(StateId state,
                                                       int keyGroup,
                                                       std::string_view key,
                                                       std::string_view stateNamespace,
                                                       std::string_view userKey) {
  return getMapValue(state, keyGroup, key, stateNamespace, userKey, nullptr);
}

absl::StatusOr<std::unique_ptr<RocksDbMapIterator>> RocksDbKeyedStore::iterateMap(
    StateId state, int keyGroup, std::string_view key, std::string_view stateNamespace) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kMap, keyGroup, key, stateNamespace));
  if (impl_->stateCache_.enabled()) {
    // The iterator reads RocksDB, which must hold the map's cached changes first.
    if (CachedRow* row = impl_->findRow(state.index); row != nullptr) {
      BROOK_RETURN_IF_ERROR(impl_->writeBackMapRow(*row));
    }
  }
  auto iteratorImpl = std::make_unique<RocksDbMapIterator::Impl>();
  iteratorImpl->store = impl_;
  iteratorImpl->prefixSize = impl_->keyScratch_.size();
  iteratorImpl->iterator =
      impl_->seekPrefix(*info, &iteratorImpl->upper, &iteratorImpl->upperSlice);
  return std::unique_ptr<RocksDbMapIterator>(new RocksDbMapIterator(std::move(iteratorImpl)));
}

absl::Status RocksDbKeyedStore::clearMap(StateId state,
                                         int keyGroup,
                                         std::string_view key,
                                         std::string_view stateNamespace) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_ASSIGN_OR_RETURN(const StateInfo* info,
                         impl_->prepareKey(state, StateKind::kMap, keyGroup, key, stateNamespace));
  rocksdb::WriteBatch batch;
  BROOK_RETURN_IF_ERROR(impl_->deleteMapEntries(*info, &batch));
  BROOK_RETURN_IF_ERROR(
      impl_->write(&batch, absl::StrCat("clearing map state '", info->name, "'")));
  if (impl_->stateCache_.enabled()) {
    // The map is now known to be empty: its later reads need not ask RocksDB.
    CachedRow& row = impl_->rowForWrite(state.index);
    row.map = std::make_unique<CachedMapEntries>();
    row.map->complete = true;
    impl_->stateCache_.charge(row, RocksDbStateCache::emptyRowBytes(impl_->rowKey_) +
                                       RocksDbStateCache::kMapOverhead - row.bytes);
    return impl_->evictIfFull();
  }
  return absl::OkStatus();
}

absl::Status RocksDbKeyedStore::clearAll(int keyGroup,
                                         std::string_view key,
                                         std::string_view stateNamespace) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  BROOK_RETURN_IF_ERROR(impl_->checkKeyGroup(keyGroup));
  Impl& impl = *impl_;
  impl.keyScratch_.clear();
  appendKeyPrefix(&impl.keyScratch_, keyGroup, key, stateNamespace);
  if (impl.stateCache_.enabled()) {
    // The deletes below cover whatever the dropped rows had not written back.
    for (size_t i = 0; i < impl.states_.size(); ++i) {
      if (impl.findRow(static_cast<int>(i)) != nullptr) {
        impl.stateCache_.erase(impl.rowKey_);
      }
    }
  }
  rocksdb::WriteBatch batch;
  for (const StateInfo& state : impl.states_) {
    if (state.kind == StateKind::kMap) {
      BROOK_RETURN_IF_ERROR(impl.deleteMapEntries(state, &batch));
    } else {
      rocksdb::Status s = batch.Delete(state.columnFamily, impl.keyScratch_);
      if (!s.ok()) {
        return impl.error(s, state, "clearing");
      }
    }
  }
  return impl.write(&batch, "clearing every state of a key");
}

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> RocksDbKeyedStore::snapshot(
    KeyGroupRange range) {
  return snapshot(range, nullptr);
}

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> RocksDbKeyedStore::snapshot(
    KeyGroupRange range, std::unique_ptr<const KeyGroupedSnapshotContent> extra) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  if (range.size() > 0) {
    BROOK_RETURN_IF_ERROR(impl_->checkKeyGroup(range.start));
    BROOK_RETURN_IF_ERROR(impl_->checkKeyGroup(range.end));
  }
  BROOK_RETURN_IF_ERROR(impl_->writeBackAll());
  return std::unique_ptr<KeyedStateSnapshot>(
      new RocksDbKeyedStateSnapshot(impl_, range, impl_->states_, std::move(extra)));
}

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> RocksDbKeyedStore::nativeSnapshot(
    KeyGroupRange range,
    std::unique_ptr<const KeyGroupedSnapshotContent> extra,
    std::string nativeDirectory) {
  namespace fs = std::filesystem;
  BROOK_RETURN_IF_ERROR(checkOpen());
  if (range.size() > 0) {
    BROOK_RETURN_IF_ERROR(impl_->checkKeyGroup(range.start));
    BROOK_RETURN_IF_ERROR(impl_->checkKeyGroup(range.end));
  }
  const std::string context = absl::StrCat("native snapshot of RocksDB store '", directory_,
                                           "' into '", nativeDirectory, "'");
  BROOK_RETURN_IF_ERROR(impl_->writeBackAll());
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(impl_->db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) {
    // With the write-ahead log off, the memtables must be flushed for the files to hold every
    // write: a flush threshold of 0 always flushes.
    s = checkpoint->CreateCheckpoint(nativeDirectory, /*log_size_for_flush=*/0);
  }
  if (!s.ok()) {
    std::error_code ec;
    fs::remove_all(nativeDirectory, ec);
    return toAbslStatus(s, context);
  }
  NativeSnapshotFiles files;
  files.directory = nativeDirectory;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(nativeDirectory, ec)) {
    files.files.push_back(entry.path().filename().string());
  }
  if (ec) {
    fs::remove_all(nativeDirectory, ec);
    return absl::UnavailableError(absl::StrCat(context, ": listing the files: ", ec.message()));
  }
  std::sort(files.files.begin(), files.files.end());
  return std::unique_ptr<KeyedStateSnapshot>(
      new RocksDbNativeSnapshot(range, std::move(extra), std::move(files)));
}

absl::StatusOr<NativeRestore> RocksDbKeyedStore::restoreNative(const std::string& directory,
                                                               KeyGroupRange sourceRange,
                                                               KeyGroupRange range) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  // Restores write RocksDB directly: the cache must not hold what they replace.
  BROOK_RETURN_IF_ERROR(impl_->writeBackAll());
  impl_->stateCache_.clear();
  if (impl_->states_.empty() && sourceRange == range) {
    BROOK_RETURN_IF_ERROR(impl_->adoptFiles(directory));
    return NativeRestore::kFilesAdopted;
  }
  absl::Status status = copyKeyGroupsFrom(directory, range);
  std::error_code ec;
  std::filesystem::remove_all(directory, ec);
  BROOK_RETURN_IF_ERROR(status);
  return NativeRestore::kEntriesCopied;
}

absl::Status RocksDbKeyedStore::copyKeyGroupsFrom(const std::string& directory,
                                                  KeyGroupRange range) {
  Impl& impl = *impl_;
  const std::string context = absl::StrCat("restoring RocksDB store '", directory_,
                                           "' from the native snapshot in '", directory, "'");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::vector<StateInfo> states;
  BROOK_RETURN_IF_ERROR(impl.describeColumnFamilies(directory, &descriptors, &states));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(impl.existingFilesOptions(), directory,
                                                   descriptors, &handles, &raw);
  if (!s.ok()) {
    return absl::DataLossError(toAbslStatus(s, context).message());
  }
  std::unique_ptr<rocksdb::DB> source(raw);
  const KeyGroupBounds bounds(range);
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  bounds.applyTo(read);
  rocksdb::WriteBatch batch;
  // Copies the entries of the i-th state; its iterator ends before the source closes.
  auto copyState = [&](size_t i) -> absl::Status {
    BROOK_ASSIGN_OR_RETURN(StateId id, registerState(states[i].name, states[i].kind));
    const StateInfo& target = impl.states_[static_cast<size_t>(id.index)];
    const std::string where = absl::StrCat(context, ", state '", target.name, "'");
    std::unique_ptr<rocksdb::Iterator> it(source->NewIterator(read, handles[i + 1]));
    for (it->Seek(bounds.lower()); it->Valid(); it->Next()) {
      rocksdb::Status put = batch.Put(target.columnFamily, it->key(), it->value());
      if (!put.ok()) {
        return toAbslStatus(put, where);
      }
      if (batch.GetDataSize() >= impl.restoreBatchBytes_) {
        BROOK_RETURN_IF_ERROR(impl.write(&batch, "restoring"));
        batch.Clear();
      }
    }
    if (!it->status().ok()) {
      return absl::DataLossError(toAbslStatus(it->status(), where).message());
    }
    return absl::OkStatus();
  };
  absl::Status copied = absl::OkStatus();
  for (size_t i = 0; range.size() > 0 && i < states.size() && copied.ok(); ++i) {
    copied = copyState(i);
  }
  if (copied.ok()) {
    copied = impl.write(&batch, "restoring");
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    source->DestroyColumnFamilyHandle(handle);
  }
  s = source->Close();
  return copied.ok() && !s.ok() ? toAbslStatus(s, context) : copied;
}

absl::Status RocksDbKeyedStore::restore(KeyedStateSnapshotReader& reader, KeyGroupRange range) {
  return restore(reader, range, RestoreDiversion{});
}

absl::Status RocksDbKeyedStore::restore(KeyedStateSnapshotReader& reader,
                                        KeyGroupRange range,
                                        const RestoreDiversion& diversion) {
  BROOK_RETURN_IF_ERROR(checkOpen());
  Impl& impl = *impl_;
  // The restore writes RocksDB directly: the cache must not hold what it replaces.
  BROOK_RETURN_IF_ERROR(impl.writeBackAll());
  impl.stateCache_.clear();
  const std::string context =
      absl::StrCat("restoring RocksDB store '", directory_, "' from keyed state snapshot '",
                   reader.sourceName(), "'");
  reader.seek(range);
  rocksdb::WriteBatch batch;
  KeyedStateEntry entry;
  // The state of the previous entry: entries of one state come together, within a key group.
  std::string_view lastName;
  StateId id;
  const StateInfo* info = nullptr;
  // The state diverted last (names are never empty).
  std::string divertedName;
  while (true) {
    absl::StatusOr<bool> more = reader.next(&entry);
    if (!more.ok()) {
      return more.status();
    }
    if (!*more) {
      break;
    }
    if (diversion.divert) {
      bool diverted = entry.stateName == divertedName;
      if (!diverted && (info == nullptr || entry.stateName != lastName) &&
          diversion.divert(entry.stateName)) {
        diverted = true;
        divertedName.assign(entry.stateName);
      }
      if (diverted) {
        BROOK_RETURN_IF_ERROR(diversion.take(entry));
        continue;
      }
    }
    if (info == nullptr || entry.stateName != lastName) {
      absl::StatusOr<StateId> registered = registerState(entry.stateName, entry.kind);
      if (!registered.ok()) {
        return absl::Status(registered.status().code(),
                            absl::StrCat(context, ": ", registered.status().message()));
      }
      id = *registered;
      info = &impl.states_[static_cast<size_t>(id.index)];
      lastName = info->name;
    }
    impl.keyScratch_.clear();
    appendKeyPrefix(&impl.keyScratch_, entry.keyGroup, entry.key, entry.stateNamespace);
    rocksdb::Status s;
    switch (entry.kind) {
      case StateKind::kValue:
        s = batch.Put(info->columnFamily, impl.keyScratch_, toSlice(entry.value));
        break;
      case StateKind::kList:
        impl.valueScratch_.clear();
        for (std::string_view element : entry.elements) {
          appendLengthPrefixed(&impl.valueScratch_, element);
        }
        s = batch.Put(info->columnFamily, impl.keyScratch_, impl.valueScratch_);
        break;
      case StateKind::kMap:
        impl.keyScratch_.append(entry.userKey);
        s = batch.Put(info->columnFamily, impl.keyScratch_, toSlice(entry.value));
        break;
    }
    if (!s.ok()) {
      return toAbslStatus(s, absl::StrCat(context, ", state '", info->name, "'"));
    }
    if (batch.GetDataSize() >= impl.restoreBatchBytes_) {
      BROOK_RETURN_IF_ERROR(impl.write(&batch, "restoring"));
      batch.Clear();
    }
  }
  return impl.write(&batch, "restoring");
}

absl::Status RocksDbKeyedStore::flushAndCompact() {
  BROOK_RETURN_IF_ERROR(checkOpen());
  // Everything to RocksDB, and nothing left in the cache: reads then see what is on disk.
  BROOK_RETURN_IF_ERROR(impl_->writeBackAll());
  impl_->stateCache_.clear();
  impl_->dropScanIterators();
  for (const StateInfo& state : impl_->states_) {
    rocksdb::Status s = impl_->db_->Flush(rocksdb::FlushOptions(), state.columnFamily);
    if (s.ok()) {
      s = impl_->db_->CompactRange(rocksdb::CompactRangeOptions(), state.columnFamily, nullptr,
                                   nullptr);
    }
    if (!s.ok()) {
      return impl_->error(s, state, "flushing and compacting");
    }
  }
  return absl::OkStatus();
}

RocksDbKeyedStore::MemoryUsage RocksDbKeyedStore::memoryUsage() const {
  MemoryUsage usage;
  if (impl_ != nullptr) {
    usage.blockCacheCapacity = static_cast<int64_t>(impl_->cache_->GetCapacity());
    usage.blockCacheUsage = static_cast<int64_t>(impl_->cache_->GetUsage());
    usage.memTableBytes = static_cast<int64_t>(impl_->writeBufferManager_->memory_usage());
    usage.stateCacheBytes = impl_->stateCache_.bytes();
  }
  return usage;
}

}  // namespace brook::state
