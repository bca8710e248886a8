#pragma once

/// What the heap and RocksDB keyed state backends share.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <brook/internal/keyed_state_backend.h>

#include "state/internal/frozen_keyed_state.h"
#include "state/key_group.h"
#include "state/keyed_state_backend_factory.h"
#include "state/state_snapshot.h"

namespace brook::state::internal {

/// The base of both runtime backends: the current key and its key group, the TTL clock, the
/// snapshot of heap-held tables, and restored entries of states the operator has not registered
/// yet ("pending" states, owned serialized copies handed to each table when its name is
/// registered, and written into every snapshot until then).
///
/// A heap-held table is a registered KeyedStateTable whose `heapHeld()` is true: every table on
/// the heap backend, and the timer queues on both. Subclasses decide which restored entries
/// reach `restoreEntry` (the heap backend: all of them; RocksDB: those of heap-held and other
/// engine-managed states) and add the store's part of snapshots.
///
/// Thread: the task's; the snapshots it returns may be written on another thread.
class AbstractKeyedStateBackend : public RuntimeKeyedStateBackend {
 public:
  AbstractKeyedStateBackend(const KeyedStateBackendOptions& options,
                            brook::internal::KeyedBytesStore* store);

  void setCurrentKey(std::string_view serializedKey) final;
  int64_t currentTimeMillis() const final;

  /// The restored states the operator has not registered, by name.
  std::vector<std::string> pendingStateNames() const;

 protected:
  /// Checks that `range` lies in [0, maxParallelism); InvalidArgument otherwise.
  absl::Status checkSnapshotRange(KeyGroupRange range) const;

  /// The synchronous phase of the heap-held part of a snapshot of `range`: serializes every
  /// heap-held table and shares the pending states.
  absl::StatusOr<std::unique_ptr<FrozenKeyedState>> freezeHeapHeldState(KeyGroupRange range);

  /// Checks that `reader`'s snapshot fits this backend (same max parallelism) and starts a
  /// restore from it; returns the index that `restoreEntry` takes. Call `endRestore` after it,
  /// whatever the outcome.
  absl::StatusOr<uint32_t> beginRestore(const KeyedStateSnapshotReader& reader);
  /// Restores one entry of snapshot `source`: into its registered table, or into its pending
  /// state. Errors name the state and the snapshot.
  absl::Status restoreEntry(const KeyedStateEntry& entry, uint32_t source);
  void endRestore();
  /// A whole restore that hands every entry of this backend's key groups to `restoreEntry`.
  absl::Status restoreAllEntries(KeyedStateSnapshotReader& reader);

  /// Hands the table its pending entries, if any; throws StateException naming the state, the
  /// operator and the snapshot when they do not fit it.
  void onRegistered(brook::internal::KeyedStateTable& table) final;

 private:
  [[noreturn]] void failKeyGroup(int keyGroup) const;
  /// Writes one restored entry of `state` into the store; throws StateException.
  void writeToStore(int state, StateKind kind, const brook::internal::RestoredEntry& entry);
  /// The name of snapshot `source`, for messages.
  const std::string& sourceName(uint32_t source) const;

  KeyGroupRange range_;
  std::function<int64_t()> clock_;

  // Shared with the snapshots taken since they were restored, which write them: a restore that
  // adds to a shared one copies it first (copy on write).
  std::map<std::string, std::shared_ptr<FrozenState>, std::less<>> pending_;
  std::vector<std::string> restoreSources_;

  // Where the previous restored entry went: entries of one state come together.
  std::string lastRestoredState_;
  brook::internal::KeyedStateTable* lastTable_ = nullptr;
  FrozenState* lastPending_ = nullptr;
  int lastStoreState_ = -1;
};

}  // namespace brook::state::internal
