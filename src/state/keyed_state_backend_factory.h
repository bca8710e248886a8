#pragma once

/// The runtime's keyed state backends: `heap` (typed objects in memory) and `rocksdb` (the
/// RocksDbKeyedStore on local disk), behind brook::internal::KeyedStateBackend, with snapshots
/// in the canonical format of state/state_snapshot.h and restore from any set of them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>

#include <brook/internal/keyed_state_backend.h>
#include <brook/state.h>  // completes brook::State, which the backend's registrations own

#include "common/configuration.h"
#include "state/key_group.h"
#include "state/rocksdb_keyed_store.h"
#include "state/state_snapshot.h"

namespace brook::state {

/// `state.backend.type`.
enum class StateBackendType { kHeap, kRocksDb };

/// Parses `heap`, `hashmap` (Flink's name for heap) or `rocksdb`, in any case; the error names
/// the key and the accepted values.
absl::StatusOr<StateBackendType> parseStateBackendType(std::string_view text);
const char* stateBackendTypeName(StateBackendType type);

struct KeyedStateBackendOptions {
  StateBackendType type = StateBackendType::kHeap;
  /// "name (i/n)", in every error.
  std::string operatorDescription;
  int maxParallelism = 128;
  /// The key groups this operator instance owns.
  KeyGroupRange keyGroupRange;
  /// RocksDB only: a directory that does not exist yet (or is empty); created on open and
  /// removed with everything in it when the backend is destroyed.
  std::string rocksDbDirectory;
  RocksDbKeyedStore::Options rocksDb;
  /// The clock of state TTL in epoch milliseconds; null: the system clock. The RocksDB backend
  /// also calls it on RocksDB's compaction threads, so it must be thread-safe.
  std::function<int64_t()> clock;
};

/// A keyed state backend the runtime owns: the user-facing state of one keyed operator
/// instance, plus snapshot and restore. Used on the task's thread, except the snapshots it
/// returns, whose `write` may run on another thread, also after the backend is destroyed.
///
/// `setCurrentKey` computes the key's group with keyGroupFor (state/key_group.h) and throws
/// brook::StateException naming the operator when the backend does not own it (a record routed
/// to the wrong subtask); it does not allocate in steady state. `currentTimeMillis` is the
/// options' clock, or the system clock.
///
/// Where state lives: on the heap backend every state is a typed heap table; on the RocksDB
/// backend user states live in the RocksDbKeyedStore and only engine-managed state (timers, whose
/// names begin with "_") stays on the heap. Both write the same canonical snapshot, so either
/// restores the other's, at any parallelism.
class RuntimeKeyedStateBackend : public ::brook::internal::KeyedStateBackend {
 public:
  using ::brook::internal::KeyedStateBackend::KeyedStateBackend;

  virtual StateBackendType type() const = 0;

  /// The key groups this backend owns.
  KeyGroupRange keyGroupRange() const {
    return KeyGroupRange{firstKeyGroup(), firstKeyGroup() + numberOfKeyGroups() - 1};
  }

  /// The synchronous phase of a snapshot of every state (including timers) in the key groups
  /// of `range` (normally the backend's own; it must lie in [0, maxParallelism)): heap-held
  /// state is copied in serialized form, RocksDB state is pinned by a RocksDB snapshot, so later
  /// writes to the backend never show in it. Restored states that the operator has not
  /// registered are included too, so they survive a run that does not use them. The returned
  /// object writes the key groups in ascending order, each state's entries once per key group.
  virtual absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> snapshot(KeyGroupRange range) = 0;

  /// Loads the entries of this backend's key groups from `reader`; call once per snapshot
  /// that covers some of them (several after a change of parallelism), normally before the
  /// operator registers its states. States registered later receive their restored entries
  /// then (a shape that differs from the snapshot's, or bytes that do not decode, are a
  /// StateException naming the state and the snapshot). Errors name the snapshot: a different
  /// max parallelism is FailedPrecondition, a state restored as another shape than the one it
  /// is registered with is InvalidArgument, undecodable entries of registered heap states are
  /// DataLoss.
  virtual absl::Status restore(KeyedStateSnapshotReader& reader) = 0;

  // Incremental snapshots (`state.backend.incremental`): the RocksDB backend's are native, the
  // heap backend's are full ones.

  /// The synchronous phase of an incremental snapshot of the backend's key groups for
  /// checkpoint `checkpointId`: the RocksDB backend makes a native snapshot of its store in
  /// "<localDirectory>.chk-<checkpointId>" and freezes its heap-held state, which the
  /// snapshot's `write` writes; the heap backend takes a full snapshot.
  virtual absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> incrementalSnapshot(
      int64_t checkpointId) {
    (void)checkpointId;
    return snapshot(keyGroupRange());
  }

  /// Loads this backend's key groups from the files of a native snapshot in `directory`, taken
  /// of a backend that owned `sourceRange` (see RocksDbKeyedStore::restoreNative); the directory
  /// is consumed. Its heap-held state comes with the snapshot's canonical file, through
  /// `restore`. The heap backend refuses (FailedPrecondition).
  virtual absl::StatusOr<NativeRestore> restoreNative(const std::string& directory,
                                                      KeyGroupRange sourceRange) {
    (void)directory;
    (void)sourceRange;
    return absl::FailedPreconditionError(absl::StrCat(
        "an incremental RocksDB checkpoint restores only into the rocksdb state backend, not ",
        stateBackendTypeName(type()), "; take a savepoint to change the backend"));
  }

  /// The backend's local directory (RocksDB), beside which native snapshots and restores stage
  /// their files; empty for the heap backend.
  virtual std::string localDirectory() const { return {}; }
};

/// Creates a backend. Options that do not fit together (max parallelism outside
/// [1, kUpperBoundMaxParallelism], a key group range outside [0, maxParallelism), no RocksDB
/// directory) are InvalidArgument; a RocksDB directory that cannot be created or is not empty
/// is FailedPrecondition naming the directory.
absl::StatusOr<std::unique_ptr<RuntimeKeyedStateBackend>> createKeyedStateBackend(
    KeyedStateBackendOptions options);

}  // namespace brook::state
