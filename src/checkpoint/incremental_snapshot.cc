#include "checkpoint/incremental_snapshot.h"

#include <system_error>
#include <utility>

#include <absl/strings/str_cat.h>

#include "checkpoint/checkpoint_storage.h"
#include "common/status_macros.h"
#include "state/keyed_state_backend_factory.h"
#include "state/state_snapshot.h"

namespace brook::checkpoint {

namespace fs = std::filesystem;

namespace {

bool isSstFile(const std::string& name) {
  return name.ends_with(".sst");
}

}  // namespace

absl::StatusOr<std::vector<NativeStateFile>> IncrementalSnapshotUploader::upload(
    int64_t checkpointId,
    const state::NativeSnapshotFiles& files,
    const fs::path& directory,
    const std::atomic<bool>& cancelled) {
  std::set<std::string> confirmed;
  {
    std::lock_guard lock(mutex_);
    confirmed = confirmed_;
  }
  const fs::path shared = sharedDirectoryOf(directory);
  std::vector<NativeStateFile> out;
  std::set<std::string> sstFiles;
  for (const std::string& name : files.files) {
    NativeStateFile file;
    file.localName = name;
    const fs::path source = fs::path(files.directory) / name;
    if (isSstFile(name)) {
      file.shared = true;
      sstFiles.insert(name);
      if (confirmed.count(name) == 0) {
        BROOK_ASSIGN_OR_RETURN(
            file.file, uploadFile(source, shared,
                                  absl::StrCat("chk-", checkpointId, "-", filePrefix_, "-", name),
                                  &cancelled));
      }
    } else {
      BROOK_ASSIGN_OR_RETURN(
          file.file,
          uploadFile(source, directory, absl::StrCat(filePrefix_, ".native/", name), &cancelled));
    }
    out.push_back(std::move(file));
  }
  std::lock_guard lock(mutex_);
  pending_[checkpointId] = std::move(sstFiles);
  return out;
}

void IncrementalSnapshotUploader::continueFrom(int64_t checkpointId,
                                               const std::vector<NativeStateFile>& files) {
  std::set<std::string> sstFiles;
  for (const NativeStateFile& file : files) {
    if (file.shared && isSstFile(file.localName))
      sstFiles.insert(file.localName);
  }
  std::lock_guard lock(mutex_);
  confirmed_ = std::move(sstFiles);
  confirmedId_ = checkpointId;
}

void IncrementalSnapshotUploader::notifyCheckpointComplete(int64_t checkpointId) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(checkpointId);
  if (it != pending_.end() && checkpointId > confirmedId_) {
    confirmed_ = std::move(it->second);
    confirmedId_ = checkpointId;
  }
  pending_.erase(pending_.begin(), pending_.upper_bound(checkpointId));
}

void IncrementalSnapshotUploader::notifyCheckpointAborted(int64_t checkpointId) {
  std::lock_guard lock(mutex_);
  pending_.erase(checkpointId);
}

absl::StatusOr<state::NativeRestore> restoreNativeKeyedState(
    const fs::path& checkpointDirectory,
    const SubtaskStateMetadata& subtask,
    state::RuntimeKeyedStateBackend& backend) {
  const state::KeyGroupRange sourceRange{subtask.keyGroupStart, subtask.keyGroupEnd};
  const std::string local = backend.localDirectory();
  if (local.empty())
    return backend.restoreNative({}, sourceRange);  // the backend's own refusal
  const fs::path staging = absl::StrCat(local, ".restore-", subtask.subtaskIndex);
  std::error_code error;
  fs::remove_all(staging, error);
  fs::create_directories(staging, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", staging.string(), ": ", error.message()));
  }
  absl::Status copied = absl::OkStatus();
  for (const NativeStateFile& file : subtask.nativeKeyedState) {
    copied = copyNativeStateFile(checkpointDirectory, file, staging / file.localName);
    if (!copied.ok())
      break;
  }
  absl::StatusOr<state::NativeRestore> restored =
      copied.ok() ? backend.restoreNative(staging.string(), sourceRange) : copied;
  fs::remove_all(staging, error);
  return restored;
}

}  // namespace brook::checkpoint
