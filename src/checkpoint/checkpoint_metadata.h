#pragma once

/// What a completed checkpoint or savepoint holds: per operator (bound by its uid) and parallel
/// subtask, the files of its keyed state, operator state and in-flight channel data. Paths are
/// relative to the checkpoint's directory, so a savepoint directory can be moved as a whole.

#include <cstdint>
#include <string>
#include <vector>

namespace brook::checkpoint {

/// One file of state: where it is, how long it is and its CRC-32C, so that a restore notices a
/// truncated, replaced or corrupted file before reading it.
struct StateFile {
  std::string path;  ///< relative to the checkpoint directory
  int64_t size = 0;
  uint32_t crc32c = 0;
  bool operator==(const StateFile&) const = default;
};

/// What one parallel subtask of an operator snapshotted.
struct SubtaskStateMetadata {
  int subtaskIndex = 0;
  /// The key groups of its keyed state, inclusive; end < start when it has none.
  int keyGroupStart = 0;
  int keyGroupEnd = -1;
  std::vector<StateFile> keyedState;
  std::vector<StateFile> operatorState;
  std::vector<StateFile> channelState;
  bool operator==(const SubtaskStateMetadata&) const = default;
};

struct OperatorStateMetadata {
  std::string operatorUid;
  std::string operatorName;
  int parallelism = 1;
  int maxParallelism = 128;
  std::vector<SubtaskStateMetadata> subtasks;  ///< ascending subtask index
  bool operator==(const OperatorStateMetadata&) const = default;
};

struct CheckpointMetadata {
  std::string jobId;
  int64_t checkpointId = 0;
  int64_t timestampMillis = 0;
  bool isSavepoint = false;
  std::vector<OperatorStateMetadata> operators;
  bool operator==(const CheckpointMetadata&) const = default;

  /// Every state file the checkpoint names.
  std::vector<const StateFile*> files() const;
};

}  // namespace brook::checkpoint
