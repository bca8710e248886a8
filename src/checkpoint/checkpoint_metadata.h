#pragma once

/// What a completed checkpoint or savepoint holds: per operator (bound by its uid) and parallel
/// subtask, the files of its keyed state, operator state and in-flight channel data. Paths are
/// relative to the checkpoint's directory, so a savepoint directory can be moved as a whole;
/// only incremental checkpoints (never savepoints) also name files in the job's shared
/// directory, beside their own.

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

/// A file of an incremental (native RocksDB) snapshot of a subtask's keyed state.
struct NativeStateFile {
  /// Its name among the RocksDB files: a plain file name.
  std::string localName;
  /// In the job's shared directory (`<job dir>/shared`, an SST file that later checkpoints may
  /// reference too), else in the checkpoint's directory; `file.path` is relative to it.
  bool shared = false;
  /// In a task's acknowledgement, a shared file with an empty path is a placeholder: the same
  /// file of the same subtask in the latest completed checkpoint, whose path the coordinator
  /// fills in.
  StateFile file;
  bool operator==(const NativeStateFile&) const = default;
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
  /// An incremental snapshot's RocksDB files; `keyedState` then holds only the keyed state kept
  /// outside RocksDB (timers).
  std::vector<NativeStateFile> nativeKeyedState;
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

  /// Every state file the checkpoint names in its own directory (the shared files of
  /// incremental snapshots are not among them).
  std::vector<const StateFile*> files() const;
  /// The shared files of incremental snapshots the checkpoint names.
  std::vector<const NativeStateFile*> sharedFiles() const;
};

}  // namespace brook::checkpoint
