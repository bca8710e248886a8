// Barrier alignment at a task with several input channels, in both checkpointing modes.

#include "checkpoint/checkpoint_barrier_aligner.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brook::checkpoint {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Action = CheckpointBarrierAligner::Decision::Action;

// "trigger 3" / "abort 2": the decisions in a comparable form.
std::vector<std::string> text(const std::vector<CheckpointBarrierAligner::Decision>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) {
    out.push_back((d.action == Action::kTriggerCheckpoint ? "trigger " : "abort ") +
                  std::to_string(d.checkpointId));
  }
  return out;
}

TEST(BarrierAlignerTest, ExactlyOnceBlocksChannelsUntilAllDeliveredTheBarrier) {
  CheckpointBarrierAligner a(3, CheckpointingMode::kExactlyOnce);
  EXPECT_THAT(text(a.onBarrier(1, 1, 100)), IsEmpty());
  EXPECT_TRUE(a.isAligning());
  EXPECT_TRUE(a.isBlocked(1));
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_THAT(text(a.onBarrier(0, 1, 100)), IsEmpty());
  EXPECT_TRUE(a.isBlocked(0));
  auto last = a.onBarrier(2, 1, 100);
  EXPECT_THAT(text(last), ElementsAre("trigger 1"));
  EXPECT_EQ(last[0].timestampMillis, 100);
  EXPECT_FALSE(a.isAligning());
  for (int c = 0; c < 3; ++c)
    EXPECT_FALSE(a.isBlocked(c)) << c;
  // A duplicate or stale barrier changes nothing.
  EXPECT_THAT(text(a.onBarrier(2, 1, 100)), IsEmpty());
  EXPECT_FALSE(a.isBlocked(2));
}

TEST(BarrierAlignerTest, OneChannelTriggersAtOnce) {
  CheckpointBarrierAligner a(1, CheckpointingMode::kExactlyOnce);
  EXPECT_THAT(text(a.onBarrier(0, 7, 0)), ElementsAre("trigger 7"));
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_EQ(a.latestCheckpointId(), 7);
}

TEST(BarrierAlignerTest, ANewerBarrierAbortsTheAlignmentInProgress) {
  CheckpointBarrierAligner a(2, CheckpointingMode::kExactlyOnce);
  a.onBarrier(0, 1, 0);
  auto ds = a.onBarrier(1, 2, 0);  // channel 1 skipped checkpoint 1's barrier? 2 wins
  EXPECT_THAT(text(ds), ElementsAre("abort 1"));
  EXPECT_THAT(ds[0].reason, HasSubstr("checkpoint 2 arrived while checkpoint 1"));
  EXPECT_TRUE(a.isBlocked(1));
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_THAT(text(a.onBarrier(0, 1, 0)), IsEmpty());  // the late barrier of 1 is ignored
  EXPECT_THAT(text(a.onBarrier(0, 2, 0)), ElementsAre("trigger 2"));
}

TEST(BarrierAlignerTest, EndedChannelsNoLongerHoldBackAlignment) {
  CheckpointBarrierAligner a(3, CheckpointingMode::kExactlyOnce);
  a.onBarrier(0, 1, 0);
  EXPECT_THAT(text(a.onEndOfPartition(2)), IsEmpty());
  EXPECT_THAT(text(a.onEndOfPartition(1)), ElementsAre("trigger 1"));
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_THAT(text(a.onEndOfPartition(1)), IsEmpty());  // twice is nothing new
  EXPECT_THAT(text(a.onBarrier(0, 2, 0)), ElementsAre("trigger 2"));
}

TEST(BarrierAlignerTest, SwitchingToUnalignedReleasesTheChannelsAndTellsWhichDelivered) {
  CheckpointBarrierAligner a(3, CheckpointingMode::kExactlyOnce);
  a.onBarrier(1, 6, 0);
  EXPECT_EQ(a.aligningCheckpointId(), 6);
  EXPECT_THAT(a.switchToUnaligned(), ElementsAre(0, 1, 0));
  EXPECT_FALSE(a.isAligning());
  EXPECT_FALSE(a.isBlocked(1));
  EXPECT_EQ(a.aligningCheckpointId(), 0);
  EXPECT_THAT(text(a.onBarrier(0, 6, 0)), IsEmpty());  // 6 goes on unaligned at the task
  EXPECT_THAT(text(a.onBarrier(0, 7, 0)), IsEmpty());
  EXPECT_TRUE(a.isBlocked(0));
}

TEST(BarrierAlignerTest, AnUnalignedBarrierAbortsAnOlderAlignment) {
  CheckpointBarrierAligner a(2, CheckpointingMode::kExactlyOnce);
  a.onBarrier(0, 2, 0);
  EXPECT_THAT(text(a.onUnalignedBarrier(3)), ElementsAre("abort 2"));
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_EQ(a.latestCheckpointId(), 3);
  EXPECT_THAT(text(a.onBarrier(1, 2, 0)), IsEmpty());  // older barriers are ignored
  EXPECT_THAT(text(a.onUnalignedBarrier(3)), IsEmpty());
}

TEST(BarrierAlignerTest, AbortAlignmentReleasesEveryChannel) {
  CheckpointBarrierAligner a(2, CheckpointingMode::kExactlyOnce);
  a.onBarrier(0, 4, 0);
  auto ds = a.abortAlignment("alignment timed out");
  EXPECT_THAT(text(ds), ElementsAre("abort 4"));
  EXPECT_EQ(ds[0].reason, "alignment timed out");
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_FALSE(a.isAligning());
  EXPECT_THAT(text(a.onBarrier(1, 4, 0)), IsEmpty());  // 4 is over at this task
  EXPECT_THAT(text(a.onBarrier(1, 5, 0)), IsEmpty());
  EXPECT_THAT(text(a.onBarrier(0, 5, 0)), ElementsAre("trigger 5"));
}

TEST(BarrierAlignerTest, AtLeastOnceNeverBlocksAndTracksSeveralCheckpoints) {
  CheckpointBarrierAligner a(2, CheckpointingMode::kAtLeastOnce);
  EXPECT_THAT(text(a.onBarrier(0, 1, 0)), IsEmpty());
  EXPECT_FALSE(a.isBlocked(0));
  EXPECT_THAT(text(a.onBarrier(0, 2, 0)), IsEmpty());  // 1 is still in flight
  EXPECT_THAT(text(a.onBarrier(1, 1, 0)), ElementsAre("trigger 1"));
  EXPECT_THAT(text(a.onBarrier(1, 2, 0)), ElementsAre("trigger 2"));
}

TEST(BarrierAlignerTest, AtLeastOnceAbortsACheckpointOvertakenByANewerOne) {
  CheckpointBarrierAligner a(2, CheckpointingMode::kAtLeastOnce);
  a.onBarrier(0, 1, 0);
  a.onBarrier(0, 2, 0);
  // Channel 1 delivers 2 without ever delivering 1: 1 cannot complete here.
  EXPECT_THAT(text(a.onBarrier(1, 2, 0)), ElementsAre("abort 1", "trigger 2"));
}

}  // namespace
}  // namespace brook::checkpoint
