#pragma once

/// Checkpoint storage on a file system (`state.checkpoints.dir`, a `file://` URI or a path), laid
/// out as Flink's:
///
///   <dir>/<job id>/chk-<n>/_metadata     the metadata of completed checkpoint n
///   <dir>/<job id>/chk-<n>/<state files> what the tasks wrote for checkpoint n
///   <dir>/<job id>/shared/               files shared by incremental checkpoints
///
/// A checkpoint is complete exactly when its `_metadata` file exists: it is written last and
/// atomically (temporary file, fsync, rename, fsync of the directory). The file is framed:
///
///   "BRKCHKMD" | format version u32 = 1 | payload length u64 | crc32c(payload) u32 | payload
///
/// (little-endian integers; the payload is the brook.v1.CheckpointMetadata Protobuf message), so
/// that a truncated or damaged file is detected before it is parsed.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "checkpoint/checkpoint_metadata.h"

namespace brook::checkpoint {

/// The name of the metadata file of a checkpoint or savepoint directory, as Flink's.
inline constexpr char kMetadataFileName[] = "_metadata";
/// The folder of a job's checkpoints that holds the files incremental checkpoints share.
inline constexpr char kSharedDirectoryName[] = "shared";

/// The directory a checkpoint URI names: `file:///abs/path`, `file:/abs/path` or a plain path.
/// Other schemes and empty URIs are errors naming the URI.
absl::StatusOr<std::filesystem::path> parseCheckpointDirectoryUri(std::string_view uri);

/// The framed bytes of a `_metadata` file, and back. Decoding errors are DataLossError naming
/// `source` (the file) and what is wrong.
std::string encodeMetadata(const CheckpointMetadata& metadata);
absl::StatusOr<CheckpointMetadata> decodeMetadata(std::string_view bytes, std::string_view source);

/// The metadata of the checkpoint or savepoint in `path` (its directory or its `_metadata` file).
absl::StatusOr<CheckpointMetadata> readMetadata(const std::filesystem::path& path);

/// Checks that every state file `metadata` names exists under `directory` with the recorded
/// size and CRC-32C; the error names the first file that does not.
absl::Status verifyStateFiles(const CheckpointMetadata& metadata,
                              const std::filesystem::path& directory);

/// The job's shared directory, beside the checkpoint directory `checkpointDirectory`.
std::filesystem::path sharedDirectoryOf(const std::filesystem::path& checkpointDirectory);

/// Where `file`, named by the checkpoint in `checkpointDirectory`, lives.
std::filesystem::path nativeStateFilePath(const std::filesystem::path& checkpointDirectory,
                                          const NativeStateFile& file);

/// Copies `file` of the checkpoint in `checkpointDirectory` to `destination` (a new file),
/// checking its size and CRC-32C on the way: a mismatch is DataLoss naming the file.
absl::Status copyNativeStateFile(const std::filesystem::path& checkpointDirectory,
                                 const NativeStateFile& file,
                                 const std::filesystem::path& destination);

/// Copies the local file `source` into `directory`/`name` as a state file (StateFileStream:
/// atomically, checksummed, stopping when `cancelled` is set) and returns its handle.
absl::StatusOr<StateFile> uploadFile(const std::filesystem::path& source,
                                     const std::filesystem::path& directory,
                                     std::string_view name,
                                     const std::atomic<bool>* cancelled = nullptr);

/// The id of the checkpoint that uploaded the shared file `name` ("chk-<id>-..."), or -1.
int64_t sharedFileUploader(std::string_view name);

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one:
/// a temporary file beside it, fsync, rename over `path`, fsync of the directory.
absl::Status writeFileAtomically(const std::filesystem::path& path, std::string_view bytes);

/// Writes one state file into `directory` (atomically) and returns its handle, named relative to
/// `directory`.
absl::StatusOr<StateFile> writeStateFile(const std::filesystem::path& directory,
                                         std::string_view name, std::string_view bytes);

/// Writes one state file into a checkpoint directory as a stream, so that a snapshot never has
/// to be held in memory whole: the bytes go through a buffer into a temporary file beside the
/// final name, checksummed on the way; `close` syncs the file and renames it into place. A stream
/// destroyed before `close` (or whose `close` fails) removes its temporary file.
///
/// A set `cancelled` flag makes every later write fail, so that an upload of a task that is
/// being cancelled stops at its next buffer. Not thread-safe.
class StateFileStream {
 public:
  /// Opens `directory`/`name` (a relative path inside `directory`; missing parent folders are
  /// created) for writing.
  static absl::StatusOr<std::unique_ptr<StateFileStream>> create(
      const std::filesystem::path& directory, std::string_view name,
      const std::atomic<bool>* cancelled = nullptr);
  ~StateFileStream();
  StateFileStream(const StateFileStream&) = delete;
  StateFileStream& operator=(const StateFileStream&) = delete;

  /// Where to write the file's bytes. After a failed write the stream is bad and `status` says
  /// why.
  std::ostream& stream() { return stream_; }
  /// OK, or the first failure of a write (naming the file), or Cancelled.
  absl::Status status() const;
  /// Flushes, syncs and renames the file into place; its handle names it relative to the
  /// directory. Call at most once.
  absl::StatusOr<StateFile> close();

 private:
  class Buffer;
  explicit StateFileStream(std::unique_ptr<Buffer> buffer);

  std::unique_ptr<Buffer> buffer_;
  std::ostream stream_;
};

/// Reads a state file of the checkpoint in `directory`, checking its size and CRC-32C.
absl::StatusOr<std::string> readStateFile(const std::filesystem::path& directory,
                                          const StateFile& file);

/// Completes a checkpoint or savepoint: writes `metadata` as `directory`/_metadata.
absl::Status writeMetadata(const std::filesystem::path& directory,
                           const CheckpointMetadata& metadata);

/// The checkpoints of one job under a checkpoint directory.
class FileCheckpointStorage {
 public:
  /// Storage for `jobId` under the directory `uri` names; creates the job's folder.
  static absl::StatusOr<FileCheckpointStorage> open(std::string_view uri, std::string_view jobId);

  const std::filesystem::path& jobDirectory() const { return jobDirectory_; }
  std::filesystem::path checkpointDirectory(int64_t checkpointId) const;
  std::filesystem::path sharedDirectory() const { return jobDirectory_ / kSharedDirectoryName; }

  /// Creates the directory of checkpoint `checkpointId`; an error if it already holds a
  /// completed checkpoint.
  absl::StatusOr<std::filesystem::path> initializeCheckpoint(int64_t checkpointId) const;

  /// The ids of the completed checkpoints (those with a `_metadata` file), ascending.
  std::vector<int64_t> completedCheckpointIds() const;

  /// Removes the directory of checkpoint `checkpointId` (complete or not).
  absl::Status discardCheckpoint(int64_t checkpointId) const;

  /// Removes completed checkpoints but the newest `numRetained`, and the directories of
  /// checkpoints that never completed and are older than the newest completed one, except
  /// those of `inProgress`; then the shared files that no remaining checkpoint references
  /// (discardUnreferencedSharedFiles).
  absl::Status retain(int numRetained, const std::vector<int64_t>& inProgress = {}) const;

  /// Removes the files of the shared directory that no completed checkpoint references and
  /// that a checkpoint neither in `inProgress` nor newer than `newestCompleted` uploaded (a
  /// pending checkpoint references only its own uploads and files of the latest completed
  /// checkpoint), and the partial uploads of those checkpoints (left by a crash). Keeps
  /// everything when a completed checkpoint's metadata cannot be read.
  absl::Status discardUnreferencedSharedFiles(int64_t newestCompleted,
                                              const std::vector<int64_t>& inProgress) const;

  struct Restorable {
    CheckpointMetadata metadata;
    std::filesystem::path directory;
  };
  /// The newest completed checkpoint whose metadata and state files are intact. A damaged or
  /// incomplete newer one is skipped, with a line saying why appended to `warnings`. NotFound
  /// when the job has no completed checkpoint; DataLoss naming each when none is usable.
  absl::StatusOr<Restorable> latestRestorable(std::vector<std::string>* warnings) const;

 private:
  explicit FileCheckpointStorage(std::filesystem::path jobDirectory)
      : jobDirectory_(std::move(jobDirectory)) {}

  std::filesystem::path jobDirectory_;
};

}  // namespace brook::checkpoint
