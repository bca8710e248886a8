#pragma once

/// Incremental checkpoints of RocksDB keyed state (`state.backend.incremental`), as Flink's:
/// a checkpoint holds the native files of each operator instance's RocksDB store. SST files
/// are immutable, so each is uploaded once, into the job's shared directory, and later
/// checkpoints that still hold it reference the same file; the other RocksDB files (MANIFEST,
/// CURRENT, OPTIONS) are small and go into the checkpoint's own directory. Shared files are
/// named "chk-<id of the uploading checkpoint>-<operator instance>-<RocksDB file name>"; the
/// checkpoint storage removes those that no retained checkpoint references any more
/// (FileCheckpointStorage::discardUnreferencedSharedFiles).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "checkpoint/checkpoint_metadata.h"

namespace brook::state {
enum class NativeRestore;
struct NativeSnapshotFiles;
class RuntimeKeyedStateBackend;
}  // namespace brook::state

namespace brook::checkpoint {

/// The uploads of one operator instance's incremental snapshots. It remembers which SST files
/// the latest checkpoint it knows to be complete holds; a later snapshot names those by
/// placeholder (the coordinator fills in the path from the latest completed checkpoint, which
/// holds every file that both hold, since a file once compacted away never returns) and
/// uploads the rest. Thread-safe: uploads run on the task's checkpoint thread, notifications
/// arrive on the task's thread.
class IncrementalSnapshotUploader {
 public:
  /// `filePrefix` names the operator instance in file names ("<operator>_<subtask>").
  explicit IncrementalSnapshotUploader(std::string filePrefix)
      : filePrefix_(std::move(filePrefix)) {}

  /// Uploads the native files of checkpoint `checkpointId`'s snapshot into the checkpoint's
  /// `directory` and the shared directory beside it; returns them as the acknowledgement names
  /// them. Stops with Cancelled when `cancelled` is set.
  absl::StatusOr<std::vector<NativeStateFile>> upload(int64_t checkpointId,
                                                      const state::NativeSnapshotFiles& files,
                                                      const std::filesystem::path& directory,
                                                      const std::atomic<bool>& cancelled);

  /// The operator instance's RocksDB store took over the files `files` of the job's completed
  /// checkpoint `checkpointId`, which the checkpoint coordinator continues from (see
  /// CheckpointCoordinator::continueFrom): its SST files are referenced, not uploaded again.
  void continueFrom(int64_t checkpointId, const std::vector<NativeStateFile>& files);

  /// Checkpoint `checkpointId` completed: its SST files may be referenced from now on.
  void notifyCheckpointComplete(int64_t checkpointId);
  /// Checkpoint `checkpointId` was aborted: its uploads are forgotten.
  void notifyCheckpointAborted(int64_t checkpointId);

 private:
  const std::string filePrefix_;
  std::mutex mutex_;
  // The SST files of the latest checkpoint known to be complete, by RocksDB file name.
  std::set<std::string> confirmed_;
  int64_t confirmedId_ = 0;
  // The SST files of each checkpoint uploaded and not yet confirmed or aborted.
  std::map<int64_t, std::set<std::string>> pending_;
};

/// Loads into `backend` the native files of `subtask` (a snapshot of the checkpoint in
/// `checkpointDirectory` whose key groups overlap the backend's): copies them, checked, into a
/// staging directory beside the backend's local directory and hands them to
/// RuntimeKeyedStateBackend::restoreNative, whose answer it returns.
absl::StatusOr<state::NativeRestore> restoreNativeKeyedState(
    const std::filesystem::path& checkpointDirectory,
    const SubtaskStateMetadata& subtask,
    state::RuntimeKeyedStateBackend& backend);

}  // namespace brook::checkpoint
