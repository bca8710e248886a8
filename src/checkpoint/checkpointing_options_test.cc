// Checkpointing options from Flink's configuration keys: defaults, parsing, and errors that
// name the key.

#include "checkpoint/checkpointing_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brook::checkpoint {
namespace {

using ::testing::HasSubstr;

TEST(CheckpointingOptionsTest, DefaultsAreFlinks) {
  absl::StatusOr<CheckpointingOptions> o = checkpointingOptionsFrom(Configuration());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->enabled());
  EXPECT_EQ(o->mode, CheckpointingMode::kExactlyOnce);
  EXPECT_EQ(o->timeoutMillis, 600'000);
  EXPECT_EQ(o->minPauseMillis, 0);
  EXPECT_EQ(o->maxConcurrentCheckpoints, 1);
  EXPECT_EQ(o->tolerableFailedCheckpoints, 0);
  EXPECT_FALSE(o->unaligned);
  EXPECT_EQ(o->numRetained, 1);
  EXPECT_FALSE(o->incremental);
}

TEST(CheckpointingOptionsTest, ReadsEveryKey) {
  Configuration c;
  c.set("execution.checkpointing.interval", "500ms");
  c.set("execution.checkpointing.mode", "at_least_once");
  c.set("execution.checkpointing.timeout", "1 min");
  c.set("execution.checkpointing.min-pause", "2s");
  c.set("execution.checkpointing.max-concurrent-checkpoints", "3");
  c.set("execution.checkpointing.tolerable-failed-checkpoints", "4");
  c.set("state.checkpoints.dir", "file:///var/brook/checkpoints");
  c.set("state.checkpoints.num-retained", "5");
  c.set("state.backend.incremental", "FALSE");
  absl::StatusOr<CheckpointingOptions> o = checkpointingOptionsFrom(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->enabled());
  EXPECT_EQ(o->intervalMillis, 500);
  EXPECT_EQ(o->mode, CheckpointingMode::kAtLeastOnce);
  EXPECT_STREQ(modeName(o->mode), "AT_LEAST_ONCE");
  EXPECT_EQ(o->timeoutMillis, 60'000);
  EXPECT_EQ(o->minPauseMillis, 2000);
  EXPECT_EQ(o->maxConcurrentCheckpoints, 3);
  EXPECT_EQ(o->tolerableFailedCheckpoints, 4);
  EXPECT_EQ(o->directory, "file:///var/brook/checkpoints");
  EXPECT_EQ(o->numRetained, 5);
  EXPECT_FALSE(o->incremental);
}

TEST(CheckpointingOptionsTest, UnalignedCheckpointsAreTurnedOnByFlinksKey) {
  Configuration c;
  c.set("execution.checkpointing.unaligned.enabled", "true");
  absl::StatusOr<CheckpointingOptions> o = checkpointingOptionsFrom(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->unaligned);
}

TEST(CheckpointingOptionsTest, ReadsIncrementalCheckpoints) {
  Configuration incremental;
  incremental.set("state.backend.incremental", "true");
  absl::StatusOr<CheckpointingOptions> o = checkpointingOptionsFrom(incremental);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->incremental);
  incremental.set("state.backend.incremental", "sometimes");
  EXPECT_THAT(checkpointingOptionsFrom(incremental).status().message(),
              HasSubstr("state.backend.incremental"));
}

TEST(CheckpointingOptionsTest, AnAlignedCheckpointTimeoutNeedsUnalignedCheckpoints) {
  Configuration timeout;
  timeout.set("execution.checkpointing.aligned-checkpoint-timeout", "1s");
  EXPECT_THAT(checkpointingOptionsFrom(timeout).status().message(),
              HasSubstr("aligned-checkpoint-timeout: switching to unaligned checkpoints needs "
                        "execution.checkpointing.unaligned.enabled true"));
  timeout.set("execution.checkpointing.unaligned.enabled", "true");
  absl::StatusOr<CheckpointingOptions> o = checkpointingOptionsFrom(timeout);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->alignedCheckpointTimeoutMillis, 1000);
}

TEST(CheckpointingOptionsTest, BadValuesNameTheKey) {
  auto error = [](const char* key, const char* value) {
    Configuration c;
    c.set("state.checkpoints.dir", "/tmp/x");
    c.set(key, value);
    return std::string(checkpointingOptionsFrom(c).status().message());
  };
  EXPECT_THAT(error("execution.checkpointing.interval", "soon"),
              HasSubstr("execution.checkpointing.interval"));
  EXPECT_THAT(error("execution.checkpointing.mode", "twice"),
              HasSubstr("expected EXACTLY_ONCE or AT_LEAST_ONCE, got 'twice'"));
  EXPECT_THAT(error("execution.checkpointing.timeout", "0"),
              HasSubstr("execution.checkpointing.timeout: 0 is out of range"));
  EXPECT_THAT(error("execution.checkpointing.max-concurrent-checkpoints", "0"),
              HasSubstr("max-concurrent-checkpoints"));
  EXPECT_THAT(error("state.checkpoints.num-retained", "0"), HasSubstr("num-retained"));
  EXPECT_THAT(error("execution.checkpointing.unaligned.enabled", "yes"),
              HasSubstr("expected true or false, got 'yes'"));
  EXPECT_THAT(error("execution.checkpointing.min-pause", "-1"), HasSubstr("min-pause"));
}

TEST(CheckpointingOptionsTest, InconsistentCombinationsAreErrors) {
  Configuration noDirectory;
  noDirectory.set("execution.checkpointing.interval", "1s");
  EXPECT_THAT(checkpointingOptionsFrom(noDirectory).status().message(),
              HasSubstr("state.checkpoints.dir is not"));
  Configuration unalignedAtLeastOnce;
  unalignedAtLeastOnce.set("execution.checkpointing.mode", "AT_LEAST_ONCE");
  unalignedAtLeastOnce.set("execution.checkpointing.unaligned.enabled", "true");
  EXPECT_THAT(checkpointingOptionsFrom(unalignedAtLeastOnce).status().message(),
              HasSubstr("unaligned checkpoints need"));
}

}  // namespace
}  // namespace brook::checkpoint
