#pragma once

/// The `rocksdb` keyed state backend.

#include <memory>
#include <string>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "state/internal/abstract_keyed_state_backend.h"
#include "state/internal/rocksdb_keyed_bytes_store.h"
#include "state/rocksdb_keyed_store.h"

namespace brook::state::internal {

/// Keyed state in a RocksDbKeyedStore on local disk (the store tables of the typed API), except
/// engine-managed state whose names begin with "_" (timers), which stays on the heap. A
/// snapshot's synchronous phase takes a RocksDB snapshot and serializes the heap-held tables;
/// its asynchronous phase merges both, key group by key group, and keeps RocksDB open while it
/// exists. Restores write user state straight into the store (registering its states there);
/// only engine-managed states wait, pending, for their tables. Thread: the task's.
class RocksDbKeyedStateBackend final : public AbstractKeyedStateBackend {
 public:
  /// Opens the store in `options.rocksDbDirectory` (see RocksDbKeyedStore::open for errors).
  static absl::StatusOr<std::unique_ptr<RocksDbKeyedStateBackend>> create(
      const KeyedStateBackendOptions& options);

  StateBackendType type() const override { return StateBackendType::kRocksDb; }
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> snapshot(KeyGroupRange range) override;
  absl::Status restore(KeyedStateSnapshotReader& reader) override;
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> incrementalSnapshot(
      int64_t checkpointId) override;
  absl::StatusOr<NativeRestore> restoreNative(const std::string& directory,
                                              KeyGroupRange sourceRange) override;
  std::string localDirectory() const override { return bytesStore_->store().directory(); }

  RocksDbKeyedStore& rocksDbStore() { return bytesStore_->store(); }

 private:
  RocksDbKeyedStateBackend(const KeyedStateBackendOptions& options,
                           std::unique_ptr<RocksDbKeyedBytesStore> bytesStore);

  /// Whether restored entries of `stateName` stay on the heap rather than in the store.
  bool heapHeldState(std::string_view stateName) const;

  std::unique_ptr<RocksDbKeyedBytesStore> bytesStore_;
};

}  // namespace brook::state::internal
