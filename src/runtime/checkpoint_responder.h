#pragma once

/// Where a task reports its part of a checkpoint: to the JobMaster's CheckpointCoordinator,
/// directly in the mini-cluster and over gRPC from a TaskManager.

#include <cstdint>
#include <string>

#include "checkpoint/checkpoint_coordinator.h"

namespace brook::runtime {

class CheckpointResponder {
 public:
  virtual ~CheckpointResponder() = default;
  /// The task wrote its state for `checkpointId` and forwarded the barrier. Any thread.
  virtual void acknowledge(int64_t checkpointId, const checkpoint::TaskAcknowledgement& ack) = 0;
  /// The task cannot take part in `checkpointId`. Any thread.
  virtual void decline(int64_t checkpointId, checkpoint::SubtaskId task,
                       checkpoint::DeclineReason why, const std::string& reason) = 0;
};

}  // namespace brook::runtime
