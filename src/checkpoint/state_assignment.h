#pragma once

/// Restoring a job from a completed checkpoint or savepoint, as Flink's StateAssignmentOperation:
/// matching the snapshot's states to the job's operators by uid, and handing each new parallel
/// subtask its share: keyed state by key groups (the snapshots whose key groups overlap the
/// subtask's), operator state by its redistribution mode (unchanged when the parallelism is).

#include <filesystem>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <brook/operator_state_store.h>

#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/checkpoint_metadata.h"
#include "checkpoint/checkpointing_options.h"

namespace brook::state {
class RuntimeKeyedStateBackend;
}

namespace brook::checkpoint {

/// A completed checkpoint or savepoint to start a job from: its metadata and directory.
struct RestoreSource {
  CheckpointMetadata metadata;
  std::filesystem::path directory;

  /// The state of operator `uid`, or null when the snapshot has none.
  const OperatorStateMetadata* find(const std::string& uid) const;
};

/// The checkpoint or savepoint in `path` (its directory or its `_metadata` file), with every
/// state file checked (size and CRC-32C). Errors name the path and the first damaged file.
absl::StatusOr<RestoreSource> loadRestoreSource(const std::filesystem::path& path);

/// Checks that `source` fits the job's `operators`: each state of the snapshot belongs to an
/// operator of the job (by uid), or, with `allowNonRestoredState`, is skipped with a line in
/// `warnings`; an operator's max parallelism equals the snapshot's (keyed state cannot be
/// redistributed otherwise). The error lists every unmatched uid.
absl::Status checkStateAssignment(const RestoreSource& source,
                                  const std::vector<OperatorDescription>& operators,
                                  bool allowNonRestoredState,
                                  std::vector<std::string>* warnings);

/// What a job starts from: the savepoint or checkpoint `settings` names, loaded
/// (loadRestoreSource) and checked against the job's `operators` (checkStateAssignment, whose
/// warnings go to `warnings`). Errors begin "cannot restore from '<path>'".
absl::StatusOr<RestoreSource> loadRestoreSourceForJob(
    const SavepointRestoreSettings& settings, const std::vector<OperatorDescription>& operators,
    std::vector<std::string>* warnings);

/// Loads into `backend` the keyed state of `state` in the backend's key groups, reading every
/// snapshot file that covers some of them. Returns the subtask snapshot whose native RocksDB
/// files the backend took over whole (it had the same key groups), or null.
absl::StatusOr<const SubtaskStateMetadata*> restoreKeyedState(
    const RestoreSource& source,
    const OperatorStateMetadata& state,
    state::RuntimeKeyedStateBackend& backend);

/// The operator state of subtask `subtaskIndex` of `parallelism`: its own snapshot when the
/// parallelism is unchanged, else the redistribution of all of them.
absl::StatusOr<internal::OperatorStateSnapshotData> assignOperatorState(
    const RestoreSource& source, const OperatorStateMetadata& state, int subtaskIndex,
    int parallelism);

}  // namespace brook::checkpoint
