#include "state/internal/heap_keyed_state_backend.h"

#include <utility>

#include "common/status_macros.h"

namespace brook::state::internal {

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> HeapKeyedStateBackend::snapshot(
    KeyGroupRange range) {
  BROOK_RETURN_IF_ERROR(checkSnapshotRange(range));
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<FrozenKeyedState> frozen, freezeHeapHeldState(range));
  return std::unique_ptr<KeyedStateSnapshot>(
      std::make_unique<FrozenKeyedStateSnapshot>(std::move(frozen)));
}

absl::Status HeapKeyedStateBackend::restore(KeyedStateSnapshotReader& reader) {
  return restoreAllEntries(reader);
}

}  // namespace brook::state::internal
