#include "checkpoint/state_assignment.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/incremental_snapshot.h"
#include "common/status_macros.h"
#include "state/keyed_state_backend_factory.h"
#include "state/operator_state_snapshot.h"
#include "state/state_snapshot.h"

namespace brook::checkpoint {

const OperatorStateMetadata* RestoreSource::find(const std::string& uid) const {
  for (const OperatorStateMetadata& op : metadata.operators) {
    if (op.operatorUid == uid)
      return &op;
  }
  return nullptr;
}

absl::StatusOr<RestoreSource> loadRestoreSource(const std::filesystem::path& path) {
  std::filesystem::path directory = path;
  if (directory.filename() == kMetadataFileName)
    directory = directory.parent_path();
  BROOK_ASSIGN_OR_RETURN(CheckpointMetadata metadata, readMetadata(directory));
  BROOK_RETURN_IF_ERROR(verifyStateFiles(metadata, directory));
  return RestoreSource{std::move(metadata), std::move(directory)};
}

absl::Status checkStateAssignment(const RestoreSource& source,
                                  const std::vector<OperatorDescription>& operators,
                                  bool allowNonRestoredState,
                                  std::vector<std::string>* warnings) {
  std::map<std::string, const OperatorDescription*> byUid;
  for (const OperatorDescription& op : operators)
    byUid[op.uid] = &op;
  std::vector<std::string> unmatched;
  // In-flight data of an unaligned checkpoint belongs to the channels between subtasks: it is
  // restored only where every operator has the parallelism it had.
  const bool hasChannelState = std::any_of(
      source.metadata.operators.begin(), source.metadata.operators.end(),
      [](const OperatorStateMetadata& state) {
        return std::any_of(state.subtasks.begin(), state.subtasks.end(),
                           [](const SubtaskStateMetadata& s) { return !s.channelState.empty(); });
      });
  for (const OperatorStateMetadata& state : source.metadata.operators) {
    auto it = byUid.find(state.operatorUid);
    if (it == byUid.end()) {
      // Operators without any state file leave nothing behind to lose.
      bool hasState = std::any_of(state.subtasks.begin(), state.subtasks.end(),
                                  [](const SubtaskStateMetadata& s) {
                                    return !s.keyedState.empty() || !s.operatorState.empty() ||
                                           !s.channelState.empty();
                                  });
      if (hasState)
        unmatched.push_back(absl::StrCat("'", state.operatorUid, "' (", state.operatorName, ")"));
      continue;
    }
    const OperatorDescription& op = *it->second;
    if (op.maxParallelism != state.maxParallelism) {
      return absl::FailedPreconditionError(absl::StrCat(
          "operator '", op.name, "' (uid '", op.uid, "') has max parallelism ", op.maxParallelism,
          ", but its state in ", source.directory.string(), " was written with max parallelism ",
          state.maxParallelism, ": keyed state moves between max parallelisms only by key group, "
          "so the max parallelism must stay the same"));
    }
    if (hasChannelState && op.parallelism != state.parallelism) {
      return absl::FailedPreconditionError(absl::StrCat(
          source.directory.string(),
          " is an unaligned checkpoint with in-flight data, which is "
          "restored only at the parallelism it was taken with: operator '",
          op.name, "' (uid '", op.uid, "') had parallelism ", state.parallelism, " and now has ",
          op.parallelism, ". Take a savepoint (always aligned) to change the parallelism"));
    }
  }
  if (unmatched.empty())
    return absl::OkStatus();
  const std::string list = absl::StrJoin(unmatched, ", ");
  if (!allowNonRestoredState) {
    return absl::FailedPreconditionError(absl::StrCat(
        source.directory.string(), " holds state of operators that the job does not have: ", list,
        ". Give those operators the same uid again, or run with --allow-non-restored-state to "
        "drop that state"));
  }
  if (warnings != nullptr) {
    warnings->push_back(
        absl::StrCat("dropping the state of operators that the job does not have: ", list));
  }
  return absl::OkStatus();
}

absl::StatusOr<RestoreSource> loadRestoreSourceForJob(
    const SavepointRestoreSettings& settings, const std::vector<OperatorDescription>& operators,
    std::vector<std::string>* warnings) {
  absl::StatusOr<RestoreSource> source = loadRestoreSource(settings.path);
  absl::Status fits =
      source.ok() ? checkStateAssignment(*source, operators, settings.allowNonRestoredState,
                                         warnings)
                  : source.status();
  if (!fits.ok()) {
    return absl::Status(fits.code(), absl::StrCat("cannot restore from '", settings.path,
                                                  "': ", fits.message()));
  }
  return source;
}

absl::StatusOr<const SubtaskStateMetadata*> restoreKeyedState(
    const RestoreSource& source,
    const OperatorStateMetadata& state,
    state::RuntimeKeyedStateBackend& backend) {
  const state::KeyGroupRange own = backend.keyGroupRange();
  const SubtaskStateMetadata* adopted = nullptr;
  for (const SubtaskStateMetadata& subtask : state.subtasks) {
    if (subtask.keyGroupEnd < subtask.keyGroupStart || subtask.keyGroupEnd < own.start ||
        subtask.keyGroupStart > own.end) {
      continue;
    }
    // The native files first: they become the store's when they cover exactly its key groups.
    if (!subtask.nativeKeyedState.empty()) {
      BROOK_ASSIGN_OR_RETURN(state::NativeRestore restored,
                             restoreNativeKeyedState(source.directory, subtask, backend));
      if (restored == state::NativeRestore::kFilesAdopted)
        adopted = &subtask;
    }
    for (const StateFile& file : subtask.keyedState) {
      BROOK_ASSIGN_OR_RETURN(std::string bytes, readStateFile(source.directory, file));
      std::istringstream in(std::move(bytes));
      const std::string name = (source.directory / file.path).string();
      BROOK_ASSIGN_OR_RETURN(state::KeyedStateSnapshotReader reader,
                             state::KeyedStateSnapshotReader::open(in, name));
      BROOK_RETURN_IF_ERROR(backend.restore(reader));
    }
  }
  return adopted;
}

absl::StatusOr<internal::OperatorStateSnapshotData> assignOperatorState(
    const RestoreSource& source, const OperatorStateMetadata& state, int subtaskIndex,
    int parallelism) {
  auto decode = [&](const SubtaskStateMetadata& subtask)
      -> absl::StatusOr<internal::OperatorStateSnapshotData> {
    internal::OperatorStateSnapshotData merged;
    for (const StateFile& file : subtask.operatorState) {
      BROOK_ASSIGN_OR_RETURN(std::string bytes, readStateFile(source.directory, file));
      BROOK_ASSIGN_OR_RETURN(
          internal::OperatorStateSnapshotData data,
          state::decodeOperatorStateSnapshot(bytes, (source.directory / file.path).string()));
      for (auto& s : data.states)
        merged.states.push_back(std::move(s));
    }
    return merged;
  };
  if (parallelism == state.parallelism) {
    for (const SubtaskStateMetadata& subtask : state.subtasks) {
      if (subtask.subtaskIndex == subtaskIndex)
        return decode(subtask);
    }
    return internal::OperatorStateSnapshotData{};
  }
  std::vector<internal::OperatorStateSnapshotData> previous(
      static_cast<size_t>(std::max(state.parallelism, 0)));
  for (const SubtaskStateMetadata& subtask : state.subtasks) {
    if (subtask.subtaskIndex < 0 || subtask.subtaskIndex >= state.parallelism) {
      return absl::DataLossError(absl::StrCat("the state of operator '", state.operatorName,
                                              "' in ", source.directory.string(), " names subtask ",
                                              subtask.subtaskIndex, " of ", state.parallelism));
    }
    BROOK_ASSIGN_OR_RETURN(previous[static_cast<size_t>(subtask.subtaskIndex)], decode(subtask));
  }
  BROOK_ASSIGN_OR_RETURN(std::vector<internal::OperatorStateSnapshotData> assigned,
                         state::redistributeOperatorState(previous, parallelism));
  return std::move(assigned[static_cast<size_t>(subtaskIndex)]);
}

}  // namespace brook::checkpoint
