#pragma once

/// The `heap` keyed state backend.

#include <memory>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "state/internal/abstract_keyed_state_backend.h"

namespace brook::state::internal {

/// Keyed state as typed objects in hash maps (the heap tables of the typed API); a snapshot's
/// synchronous phase serializes every table, and its asynchronous phase only writes those bytes
/// (it may outlive the backend). Thread: the task's.
class HeapKeyedStateBackend final : public AbstractKeyedStateBackend {
 public:
  explicit HeapKeyedStateBackend(const KeyedStateBackendOptions& options)
      : AbstractKeyedStateBackend(options, /*store=*/nullptr) {}

  StateBackendType type() const override { return StateBackendType::kHeap; }
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> snapshot(KeyGroupRange range) override;
  absl::Status restore(KeyedStateSnapshotReader& reader) override;
};

}  // namespace brook::state::internal
