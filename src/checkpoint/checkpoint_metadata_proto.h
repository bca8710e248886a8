#pragma once

/// The Protobuf form of what a subtask snapshotted (brook.v1.SubtaskStateMetadata), as tasks
/// on TaskManagers send it to the JobMaster inside their checkpoint acknowledgements.

#include <absl/status/statusor.h>

#include "brook/checkpoint.pb.h"
#include "checkpoint/checkpoint_metadata.h"

namespace brook::checkpoint {

void toProto(const SubtaskStateMetadata& state, v1::SubtaskStateMetadata* out);

/// DataLoss when a state file path leaves the checkpoint directory (absolute, or with "..").
absl::StatusOr<SubtaskStateMetadata> fromProto(const v1::SubtaskStateMetadata& proto);

}  // namespace brook::checkpoint
