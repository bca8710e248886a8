#pragma once

/// What a task with several input channels does with the checkpoint barriers they deliver, as
/// Flink's CheckpointBarrierHandler:
///
/// - EXACTLY_ONCE (aligned): the first barrier of checkpoint n starts an alignment; every channel
///   that has delivered barrier n is blocked (its later elements wait) until all open channels
///   have, and then the task snapshots its state and forwards the barrier. A barrier of a newer
///   checkpoint during an alignment aborts the older one.
/// - AT_LEAST_ONCE: nothing is blocked; the checkpoint is taken when barrier n has arrived on all
///   open channels, so elements after a barrier may be in the snapshot's state and replayed
///   after a restore. Several checkpoints may be in flight.
///
/// A channel that ends (end of partition) no longer holds back any checkpoint. The aligner is
/// plain logic owned by the task's thread; the task acts on the decisions it returns.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "checkpoint/checkpointing_options.h"

namespace brook::checkpoint {

class CheckpointBarrierAligner {
 public:
  struct Decision {
    enum class Action {
      kNone,
      /// Snapshot the task's state for `checkpointId` and forward the barrier downstream.
      kTriggerCheckpoint,
      /// Checkpoint `checkpointId` cannot complete at this task: decline it with `reason`.
      kAbortCheckpoint,
    };
    Action action = Action::kNone;
    int64_t checkpointId = 0;
    int64_t timestampMillis = 0;
    std::string reason;
  };

  CheckpointBarrierAligner(int numberOfChannels, CheckpointingMode mode);

  /// Barrier `checkpointId` arrived on `channel`. Up to two decisions: an abort of an
  /// alignment it overtakes, then the trigger when it completes one.
  std::vector<Decision> onBarrier(int channel, int64_t checkpointId, int64_t timestampMillis);

  /// The barrier of unaligned checkpoint `checkpointId`, newer than every barrier seen so far,
  /// arrived (the task takes that checkpoint at once): an alignment in progress is aborted, and
  /// older barriers that come later are ignored.
  std::vector<Decision> onUnalignedBarrier(int64_t checkpointId);

  /// `channel` delivered its end of partition.
  std::vector<Decision> onEndOfPartition(int channel);

  /// Gives up the checkpoint being aligned (its alignment timed out, or the task is
  /// cancelling it): every channel is released.
  std::vector<Decision> abortAlignment(const std::string& reason);

  /// Whether elements of `channel` must wait (it delivered the barrier of the checkpoint being
  /// aligned). Always false in AT_LEAST_ONCE mode.
  bool isBlocked(int channel) const { return blocked_[static_cast<size_t>(channel)] != 0; }
  bool isAligning() const { return aligning_; }
  /// The checkpoint being aligned (EXACTLY_ONCE), or 0.
  int64_t aligningCheckpointId() const {
    return aligning_ && !inFlight_.empty() ? inFlight_.front().id : 0;
  }
  /// Ends the alignment in progress without aborting its checkpoint, which the task takes
  /// unaligned from here (its alignment timed out). Returns per channel whether it delivered
  /// the checkpoint's barrier; every channel is released.
  std::vector<char> switchToUnaligned();
  /// The newest checkpoint whose barrier this task has seen.
  int64_t latestCheckpointId() const { return latest_; }

 private:
  /// One checkpoint whose barriers are being counted (at-least-once may have several).
  struct InFlight {
    int64_t id = 0;
    int64_t timestampMillis = 0;
    std::vector<char> seen;  // per channel
    int count = 0;
  };

  bool allOpenChannelsSeen(const InFlight& f) const;
  std::vector<Decision> completeReady();
  void release();

  const CheckpointingMode mode_;
  std::vector<char> open_;
  std::vector<char> blocked_;
  int openChannels_;
  bool aligning_ = false;
  int64_t latest_ = 0;
  std::deque<InFlight> inFlight_;  // ascending id; exactly-once keeps at most one
};

}  // namespace brook::checkpoint
