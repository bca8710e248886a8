#include "state/internal/rocksdb_keyed_state_backend.h"

#include <utility>

#include <absl/strings/str_cat.h>

#include "common/status_macros.h"

namespace brook::state::internal {

absl::StatusOr<std::unique_ptr<RocksDbKeyedStateBackend>> RocksDbKeyedStateBackend::create(
    const KeyedStateBackendOptions& options) {
  // The store's clock decides what its snapshots and compactions drop as expired: the same as
  // the backend's (the system clock when neither is set).
  RocksDbKeyedStore::Options storeOptions = options.rocksDb;
  storeOptions.clock = options.clock;
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbKeyedStore> store,
                         RocksDbKeyedStore::open(options.rocksDbDirectory, storeOptions));
  auto bytesStore =
      std::make_unique<RocksDbKeyedBytesStore>(std::move(store), options.operatorDescription);
  return std::unique_ptr<RocksDbKeyedStateBackend>(
      new RocksDbKeyedStateBackend(options, std::move(bytesStore)));
}

// The base keeps a pointer to the bytes store, which this class owns. The base is constructed
// before the store is moved in but only stores the pointer; the store is destroyed before the
// base's tables, which never use it in their destructors.
RocksDbKeyedStateBackend::RocksDbKeyedStateBackend(
    const KeyedStateBackendOptions& options, std::unique_ptr<RocksDbKeyedBytesStore> bytesStore)
    : AbstractKeyedStateBackend(options, bytesStore.get()), bytesStore_(std::move(bytesStore)) {}

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> RocksDbKeyedStateBackend::snapshot(
    KeyGroupRange range) {
  BROOK_RETURN_IF_ERROR(checkSnapshotRange(range));
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<FrozenKeyedState> frozen, freezeHeapHeldState(range));
  return rocksDbStore().snapshot(range, std::move(frozen));
}

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> RocksDbKeyedStateBackend::incrementalSnapshot(
    int64_t checkpointId) {
  const KeyGroupRange range = keyGroupRange();
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<FrozenKeyedState> frozen, freezeHeapHeldState(range));
  return rocksDbStore().nativeSnapshot(range, std::move(frozen),
                                       absl::StrCat(localDirectory(), ".chk-", checkpointId));
}

absl::StatusOr<NativeRestore> RocksDbKeyedStateBackend::restoreNative(const std::string& directory,
                                                                      KeyGroupRange sourceRange) {
  return rocksDbStore().restoreNative(directory, sourceRange, keyGroupRange());
}

bool RocksDbKeyedStateBackend::heapHeldState(std::string_view stateName) const {
  if (!stateName.empty() && stateName.front() == '_') {
    return true;
  }
  const brook::internal::KeyedStateTable* table = findTable(stateName);
  return table != nullptr && table->heapHeld();
}

absl::Status RocksDbKeyedStateBackend::restore(KeyedStateSnapshotReader& reader) {
  BROOK_ASSIGN_OR_RETURN(uint32_t source, beginRestore(reader));
  RocksDbKeyedStore::RestoreDiversion diversion{
      [this](std::string_view stateName) { return heapHeldState(stateName); },
      [this, source](const KeyedStateEntry& entry) {
        return restoreEntry(entry, source);
      }};
  absl::Status status = rocksDbStore().restore(reader, keyGroupRange(), diversion);
  endRestore();
  return status;
}

}  // namespace brook::state::internal
