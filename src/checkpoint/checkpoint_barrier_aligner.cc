#include "checkpoint/checkpoint_barrier_aligner.h"

#include <algorithm>

#include <absl/strings/str_cat.h>

namespace brook::checkpoint {

using Action = CheckpointBarrierAligner::Decision::Action;

CheckpointBarrierAligner::CheckpointBarrierAligner(int numberOfChannels, CheckpointingMode mode)
    : mode_(mode),
      open_(static_cast<size_t>(numberOfChannels), 1),
      blocked_(static_cast<size_t>(numberOfChannels), 0),
      openChannels_(numberOfChannels) {}

bool CheckpointBarrierAligner::allOpenChannelsSeen(const InFlight& f) const {
  for (size_t c = 0; c < open_.size(); ++c) {
    if (open_[c] && !f.seen[c])
      return false;
  }
  return true;
}

void CheckpointBarrierAligner::release() {
  std::fill(blocked_.begin(), blocked_.end(), 0);
  aligning_ = false;
}

std::vector<CheckpointBarrierAligner::Decision> CheckpointBarrierAligner::completeReady() {
  std::vector<Decision> decisions;
  // Checkpoints complete in id order: a newer one complete before an older one means the older
  // lost a barrier (its channel ended), so it is aborted, as Flink's tracker does.
  while (!inFlight_.empty()) {
    auto ready = std::find_if(inFlight_.begin(), inFlight_.end(),
                              [&](const InFlight& f) { return allOpenChannelsSeen(f); });
    if (ready == inFlight_.end())
      break;
    for (auto it = inFlight_.begin(); it != ready; ++it) {
      decisions.push_back(Decision{Action::kAbortCheckpoint, it->id, it->timestampMillis,
                                   absl::StrCat("barriers of checkpoint ", it->id,
                                                " were overtaken by checkpoint ", ready->id)});
    }
    decisions.push_back(
        Decision{Action::kTriggerCheckpoint, ready->id, ready->timestampMillis, {}});
    inFlight_.erase(inFlight_.begin(), ready + 1);
  }
  if (mode_ == CheckpointingMode::kExactlyOnce && inFlight_.empty())
    release();
  return decisions;
}

std::vector<CheckpointBarrierAligner::Decision> CheckpointBarrierAligner::onBarrier(
    int channel, int64_t checkpointId, int64_t timestampMillis) {
  std::vector<Decision> decisions;
  const auto c = static_cast<size_t>(channel);
  if (checkpointId > latest_) {
    latest_ = checkpointId;
    if (mode_ == CheckpointingMode::kExactlyOnce && !inFlight_.empty()) {
      const InFlight& old = inFlight_.front();
      decisions.push_back(Decision{Action::kAbortCheckpoint, old.id, old.timestampMillis,
                                   absl::StrCat("a barrier of checkpoint ", checkpointId,
                                                " arrived while checkpoint ", old.id,
                                                " was being aligned")});
      inFlight_.clear();
      release();
    }
    InFlight f{checkpointId, timestampMillis, std::vector<char>(open_.size(), 0), 0};
    inFlight_.push_back(std::move(f));
  }
  auto it = std::find_if(inFlight_.begin(), inFlight_.end(),
                         [&](const InFlight& f) { return f.id == checkpointId; });
  if (it == inFlight_.end() || it->seen[c])
    return decisions;  // a barrier of a checkpoint already taken, aborted or overtaken
  it->seen[c] = 1;
  ++it->count;
  if (mode_ == CheckpointingMode::kExactlyOnce) {
    blocked_[c] = 1;
    aligning_ = true;
  }
  std::vector<Decision> done = completeReady();
  decisions.insert(decisions.end(), done.begin(), done.end());
  return decisions;
}

std::vector<CheckpointBarrierAligner::Decision> CheckpointBarrierAligner::onUnalignedBarrier(
    int64_t checkpointId) {
  std::vector<Decision> decisions;
  if (checkpointId <= latest_)
    return decisions;
  latest_ = checkpointId;
  for (const InFlight& f : inFlight_) {
    decisions.push_back(
        Decision{Action::kAbortCheckpoint, f.id, f.timestampMillis,
                 absl::StrCat("an unaligned barrier of checkpoint ", checkpointId,
                              " arrived while checkpoint ", f.id, " was being aligned")});
  }
  inFlight_.clear();
  release();
  return decisions;
}

std::vector<char> CheckpointBarrierAligner::switchToUnaligned() {
  std::vector<char> seen(open_.size(), 0);
  if (aligning_ && !inFlight_.empty())
    seen = inFlight_.front().seen;
  inFlight_.clear();
  release();
  return seen;
}

std::vector<CheckpointBarrierAligner::Decision> CheckpointBarrierAligner::onEndOfPartition(
    int channel) {
  const auto c = static_cast<size_t>(channel);
  if (!open_[c])
    return {};
  open_[c] = 0;
  blocked_[c] = 0;
  --openChannels_;
  return completeReady();
}

std::vector<CheckpointBarrierAligner::Decision> CheckpointBarrierAligner::abortAlignment(
    const std::string& reason) {
  std::vector<Decision> decisions;
  for (const InFlight& f : inFlight_)
    decisions.push_back(Decision{Action::kAbortCheckpoint, f.id, f.timestampMillis, reason});
  inFlight_.clear();
  release();
  return decisions;
}

}  // namespace brook::checkpoint
