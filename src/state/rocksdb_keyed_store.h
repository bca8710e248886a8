#pragma once

/// The byte-level RocksDB keyed state store, on which the typed state API (ValueState<T>,
/// ListState<T>, MapState<K, V>) of the RocksDB backend is built. RocksDB stays behind this
/// header: no RocksDB type appears in it.
///
/// Layout: one RocksDB instance per operator instance (subtask), in its own local directory,
/// and one column family per registered state, named "<index>-<kind>-<state name>" (kind:
/// value, list or map), so that the files of a native snapshot describe their states. Every
/// RocksDB key of a state is
///
///   key group   2 bytes, big-endian
///   key         varint length (LEB128) + the serialized key
///   namespace   varint length (LEB128) + the serialized namespace
///   user key    the serialized map key, not length-prefixed (map state only)
///
/// so the keys of one key group form one prefix range (which snapshots iterate and restores
/// fill), and the length prefixes make the (key, namespace) part prefix-free: the entries of one
/// map are exactly the keys that begin with its (key group, key, namespace) prefix. Values are
/// the serialized value (value state), the user value (map state), or for list state the
/// elements, each varint-length-prefixed, concatenated; `addToList` appends through a merge
/// operator that concatenates, so adding never reads. Full snapshots use the canonical format
/// of state/state_snapshot.h; native (incremental) snapshots are the store's own files, so
/// these layouts are a format that later versions must keep reading.
///
/// State time-to-live: a state given one with `setTimeToLive` stores TtlValue<...> values, whose
/// last 8 bytes are the time of the last access (int64, little-endian): of the value, of each
/// map entry's user value, of each list element. Snapshots leave out the entries (and list
/// elements) that have expired by the store's clock, and a compaction filter drops them from
/// disk as RocksDB compacts.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "common/configuration.h"
#include "state/key_group.h"
#include "state/state_kind.h"
#include "state/state_snapshot.h"

namespace brook::state {

/// Configuration keys of the RocksDB backend (Flink's names), declared with the others.
namespace config_keys {
using brook::config_keys::kRocksDbBlockCacheSize;
using brook::config_keys::kRocksDbMaxBackgroundJobs;
using brook::config_keys::kRocksDbStateCacheSize;
using brook::config_keys::kRocksDbWriteBufferSize;
}  // namespace config_keys

/// A state registered with a RocksDbKeyedStore; valid only for that store.
struct StateId {
  int index = -1;
  bool operator==(const StateId&) const = default;
};

class RocksDbMapIterator;

/// The keyed state of one operator instance in RocksDB, at the level of serialized bytes.
///
/// Every call names its state by StateId and passes the key group, serialized key and
/// serialized namespace explicitly (the layer above computes and caches the key group). Reads
/// never see absent state as an error: they return false. The store is owned and used by the
/// task's mailbox thread; only the KeyedStateSnapshot it returns, and that object's `write`,
/// may be used from another thread, concurrently with the store. Misuse (an unknown StateId, a
/// state used as another kind, a key group outside [0, 65535]) is InvalidArgument; RocksDB
/// failures carry the directory and state names.
///
/// Memory: one LRU block cache of `blockCacheBytes + writeBufferBytes`, shared by all column
/// families, holds data blocks and index and filter blocks; the memtables of all column
/// families are limited to `writeBufferBytes` (a write blocks while they are over it, until a
/// background flush frees memory) and charged to that cache, so the store's memory stays
/// bounded by about the sum of the two options however many states it has. The write-ahead
/// log is off: after a failure, state comes back from a checkpoint, never from disk.
///
/// State cache: the entries the store's thread used last stay in memory, serialized, in front of
/// RocksDB, up to `stateCacheBytes` (state/rocksdb_state_cache.h). Reads of cached entries skip
/// RocksDB; writes reach RocksDB when the cache evicts them, in write batches, and before every
/// snapshot, map iteration and restore, so that what RocksDB holds is always the whole state
/// when anything reads it there. It adds its capacity to the store's memory.
class RocksDbKeyedStore {
 public:
  /// The store's resources; see the class comment for how they bound its memory.
  struct Options {
    /// Capacity of the LRU cache of data, index and filter blocks.
    int64_t blockCacheBytes = 64 << 20;
    /// Memory for the memtables of all states together.
    int64_t writeBufferBytes = 32 << 20;
    /// Capacity of the state cache (see "State cache" above; 0: none).
    int64_t stateCacheBytes = 16 << 20;
    /// Background flushes and compactions that may run at once.
    int maxBackgroundJobs = 2;
    /// The clock of state time-to-live in epoch milliseconds (null: the system clock). Called
    /// on the store's thread and on RocksDB's background threads, so it must be thread-safe.
    std::function<int64_t()> clock;

    /// Reads the config_keys above, falling back to the defaults; errors name the key.
    static absl::StatusOr<Options> fromConfiguration(const Configuration& config);
  };

  /// What the store's memory is made of now, in bytes.
  struct MemoryUsage {
    int64_t blockCacheCapacity = 0;
    /// Everything in the cache, including the memtable reservations charged to it.
    int64_t blockCacheUsage = 0;
    int64_t memTableBytes = 0;
    /// The state cache's entries.
    int64_t stateCacheBytes = 0;
  };

  /// Creates `directory` (with missing parents) and opens a new, empty store in it. Fails with
  /// FailedPrecondition naming the path when the directory cannot be created or already holds
  /// files (say, left by an earlier attempt of the task), and with InvalidArgument on bad
  /// options.
  static absl::StatusOr<std::unique_ptr<RocksDbKeyedStore>> open(std::string directory,
                                                                 Options options);

  /// Closes the store and removes its directory, as `close` does, logging any error.
  ~RocksDbKeyedStore();
  RocksDbKeyedStore(const RocksDbKeyedStore&) = delete;
  RocksDbKeyedStore& operator=(const RocksDbKeyedStore&) = delete;

  /// Closes RocksDB and removes the directory with everything in it. If snapshots or map
  /// iterators are still alive, that happens when the last of them is destroyed instead, and
  /// errors are logged there. Every call after `close` fails with FailedPrecondition.
  absl::Status close();

  const std::string& directory() const { return directory_; }

  /// Registers a state (creating its column family), or returns the StateId it already has.
  /// Registering a name again with another kind is InvalidArgument naming the state.
  absl::StatusOr<StateId> registerState(std::string_view name, StateKind kind);
  /// The registered state called `name`, if any.
  absl::StatusOr<StateId> findState(std::string_view name) const;
  /// Sets the time-to-live of `state`'s entries in milliseconds (0, the default: none), whose
  /// values must then be TtlValue<...> (see the header comment). Later snapshots and compactions
  /// leave out entries last accessed `ttlMillis` or more ago by the clock; values too short to
  /// hold a time are kept. A negative time-to-live is InvalidArgument.
  absl::Status setTimeToLive(StateId state, int64_t ttlMillis);

  /// A hint that the row of `key` in `stateNamespace` of `state` (its value, list or map) is
  /// accessed soon: starts loading its state cache slot into the processor's cache. Does nothing
  /// for an unknown state, a key group out of range, a closed store or one without a cache.
  void prefetchRow(StateId state,
                   int keyGroup,
                   std::string_view key,
                   std::string_view stateNamespace);

  // Value state.

  /// Reads the value into `*value`; returns false (leaving `*value` alone) when absent.
  absl::StatusOr<bool> getValue(StateId state,
                                int keyGroup,
                                std::string_view key,
                                std::string_view stateNamespace,
                                std::string* value);
  absl::Status putValue(StateId state,
                        int keyGroup,
                        std::string_view key,
                        std::string_view stateNamespace,
                        std::string_view value);
  absl::Status removeValue(StateId state,
                           int keyGroup,
                           std::string_view key,
                           std::string_view stateNamespace);

  // List state. A list with no elements is absent.

  /// Replaces `*elements` with the list's elements in order (reusing the memory of the strings
  /// it holds); returns false when absent. A stored list that does not decode is DataLoss
  /// naming the state; after an error `*elements` holds nothing of use.
  absl::StatusOr<bool> getList(StateId state,
                               int keyGroup,
                               std::string_view key,
                               std::string_view stateNamespace,
                               std::vector<std::string>* elements);
  /// Appends one element without reading the list.
  absl::Status addToList(StateId state,
                         int keyGroup,
                         std::string_view key,
                         std::string_view stateNamespace,
                         std::string_view element);
  /// Appends `elements` in order without reading the list.
  absl::Status addAllToList(StateId state,
                            int keyGroup,
                            std::string_view key,
                            std::string_view stateNamespace,
                            std::span<const std::string> elements);
  /// Replaces the list with `elements` (clears it when they are empty).
  absl::Status updateList(StateId state,
                          int keyGroup,
                          std::string_view key,
                          std::string_view stateNamespace,
                          std::span<const std::string> elements);
  absl::Status clearList(StateId state,
                         int keyGroup,
                         std::string_view key,
                         std::string_view stateNamespace);

  // Map state.

  /// Reads the value of `userKey` into `*value`; returns false when absent.
  absl::StatusOr<bool> getMapValue(StateId state,
                                   int keyGroup,
                                   std::string_view key,
                                   std::string_view stateNamespace,
                                   std::string_view userKey,
                                   std::string* value);
  absl::Status putMapValue(StateId state,
                           int keyGroup,
                           std::string_view key,
                           std::string_view stateNamespace,
                           std::string_view userKey,
                           std::string_view value);
  absl::Status removeMapValue(StateId state,
                              int keyGroup,
                              std::string_view key,
                              std::string_view stateNamespace,
                              std::string_view userKey);
  absl::StatusOr<bool> containsMapKey(StateId state,
                                      int keyGroup,
                                      std::string_view key,
                                      std::string_view stateNamespace,
                                      std::string_view userKey);
  /// An iterator over the map's entries in the byte order of their user keys, seeing the map
  /// as it was when the iterator was made.
  absl::StatusOr<std::unique_ptr<RocksDbMapIterator>> iterateMap(StateId state,
                                                                 int keyGroup,
                                                                 std::string_view key,
                                                                 std::string_view stateNamespace);
  absl::Status clearMap(StateId state,
                        int keyGroup,
                        std::string_view key,
                        std::string_view stateNamespace);

  /// Clears every registered state for (key, namespace), in one atomic write.
  absl::Status clearAll(int keyGroup, std::string_view key, std::string_view stateNamespace);

  /// The synchronous phase of a snapshot of the key groups in `range`: takes a RocksDB snapshot
  /// (cheap, no I/O) and returns the asynchronous phase, whose `write` may run on another thread
  /// while this store keeps taking writes, none of which it sees. The returned object keeps
  /// RocksDB open until it is destroyed, even past `close`.
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> snapshot(KeyGroupRange range);
  /// As above, and writes `extra` into the same snapshot: in each key group, after the store's
  /// states, the states `extra` has for it (key groups that only `extra` has appear too). The
  /// names of `extra`'s states must differ from the store's.
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> snapshot(
      KeyGroupRange range, std::unique_ptr<const KeyGroupedSnapshotContent> extra);

  /// The synchronous phase of an incremental snapshot: flushes the memtables and makes a
  /// RocksDB checkpoint of the whole store in `nativeDirectory` (which must not exist; on the
  /// store's file system, its SST files are hard links), whose files the returned snapshot's
  /// `nativeFiles` names. Its `write` writes `extra` alone (the states the store does not
  /// hold), over `range`. The directory is removed with the snapshot. SST files are immutable
  /// and their names never reused by the store, so a file of one native snapshot with the same
  /// name as a file of an earlier one holds the same bytes.
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> nativeSnapshot(
      KeyGroupRange range,
      std::unique_ptr<const KeyGroupedSnapshotContent> extra,
      std::string nativeDirectory);

  /// Loads the key groups of `range` from the files of a native snapshot in `directory`, taken
  /// of a store that held the key groups of `sourceRange`, registering its states. When this
  /// store has no state yet and the ranges are equal, the files become the store's (the
  /// directory is moved into its place); otherwise the entries in `range` are copied in and the
  /// directory is removed. Errors name the directory; files that RocksDB cannot open or read are
  /// DataLoss.
  absl::StatusOr<NativeRestore> restoreNative(const std::string& directory,
                                              KeyGroupRange sourceRange,
                                              KeyGroupRange range);

  /// Loads the entries of the key groups in `range` from `reader`, registering the states it
  /// names and replacing what the store holds for the same keys. Meant for a new store, called
  /// once per snapshot whose key groups intersect `range` (several when the parallelism
  /// changed). Errors name the snapshot; a state whose kind differs from its registration is
  /// InvalidArgument.
  absl::Status restore(KeyedStateSnapshotReader& reader, KeyGroupRange range);

  /// Which restored states a restore hands elsewhere instead of storing them (the RocksDB
  /// backend keeps engine-managed state such as timers on the heap).
  struct RestoreDiversion {
    /// Called where a state's entries begin (the answer must not change during a restore);
    /// true: its entries go to `take`, and the store does not register it.
    std::function<bool(std::string_view stateName)> divert;
    /// Receives each diverted entry (views valid during the call); an error ends the restore.
    std::function<absl::Status(const KeyedStateEntry& entry)> take;
  };
  /// As above, handing the entries of the states `diversion` picks to it.
  absl::Status restore(KeyedStateSnapshotReader& reader,
                       KeyGroupRange range,
                       const RestoreDiversion& diversion);

  /// Flushes every memtable and compacts every column family, so that the data lives in SST
  /// files and merge operands have been merged, and the compaction filter has dropped the
  /// expired entries of states with a time-to-live (list elements that a compaction merges with
  /// later additions may stay until the next one). Writes the state cache back first and
  /// empties it. For tests and benchmarks.
  absl::Status flushAndCompact();

  MemoryUsage memoryUsage() const;

  // Defined in the .cc file; named here so that the snapshots and iterators there can share it.
  class Impl;

 private:
  RocksDbKeyedStore(std::string directory, std::shared_ptr<Impl> impl);

  absl::Status checkOpen() const;
  /// restoreNative's copy: the entries of the key groups in `range` of the RocksDB files in
  /// `directory`.
  absl::Status copyKeyGroupsFrom(const std::string& directory, KeyGroupRange range);

  std::string directory_;
  // Shared with the snapshots and map iterators this store made, which must keep RocksDB open
  // while they exist, even when the task closes the store first (a checkpoint cancelled while
  // its asynchronous phase is running).
  std::shared_ptr<Impl> impl_;
};

/// Iterates the entries of one map state for one (key group, key, namespace), in the byte order
/// of the serialized user keys, over a consistent view taken when it was made. The views it
/// returns are valid until the next `next`. Used on the thread that owns its store.
class RocksDbMapIterator {
 public:
  ~RocksDbMapIterator();
  RocksDbMapIterator(const RocksDbMapIterator&) = delete;
  RocksDbMapIterator& operator=(const RocksDbMapIterator&) = delete;

  bool valid() const;
  void next();
  std::string_view userKey() const;
  std::string_view value() const;
  /// An error RocksDB met while iterating (then `valid` is false).
  absl::Status status() const;

  // Defined in the .cc file.
  struct Impl;

 private:
  friend class RocksDbKeyedStore;
  explicit RocksDbMapIterator(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace brook::state
