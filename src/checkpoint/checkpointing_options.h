#pragma once

/// How a job checkpoints, from Flink's configuration keys:
///
///   execution.checkpointing.interval                     0 / unset: no periodic checkpoints
///   execution.checkpointing.mode                         EXACTLY_ONCE (default) | AT_LEAST_ONCE
///   execution.checkpointing.timeout                      10 min
///   execution.checkpointing.min-pause                    0
///   execution.checkpointing.max-concurrent-checkpoints   1
///   execution.checkpointing.tolerable-failed-checkpoints 0
///   execution.checkpointing.unaligned.enabled            false
///   execution.checkpointing.aligned-checkpoint-timeout   0: unaligned checkpoints are unaligned
///                                                        from the start; > 0: they start
///                                                        aligned, and turn unaligned once
///                                                        that old (needs unaligned.enabled)
///   state.checkpoints.dir                                required when checkpointing is on
///   state.checkpoints.num-retained                       1
///   state.backend.incremental                            false; true: checkpoints of the
///                                                        RocksDB backend hold its native
///                                                        files, uploading only new SST files
///                                                        (savepoints stay full)

#include <cstdint>
#include <string>

#include <absl/status/statusor.h>

#include "common/configuration.h"

namespace brook::checkpoint {

enum class CheckpointingMode { kExactlyOnce, kAtLeastOnce };

struct CheckpointingOptions {
  /// Time between the triggers of periodic checkpoints; 0 turns them off.
  int64_t intervalMillis = 0;
  CheckpointingMode mode = CheckpointingMode::kExactlyOnce;
  /// A checkpoint not complete this long after its trigger is aborted.
  int64_t timeoutMillis = 10 * 60 * 1000;
  /// The least time between the end of one checkpoint and the trigger of the next.
  int64_t minPauseMillis = 0;
  int maxConcurrentCheckpoints = 1;
  /// Failed checkpoints in a row the job survives; one more fails it.
  int tolerableFailedCheckpoints = 0;
  bool unaligned = false;
  /// With `unaligned`: a checkpoint starts aligned and switches to unaligned once this old;
  /// 0: unaligned from the start.
  int64_t alignedCheckpointTimeoutMillis = 0;
  /// Where checkpoints are stored (a file:// URI or a path).
  std::string directory;
  int numRetained = 1;
  bool incremental = false;

  bool enabled() const { return intervalMillis > 0; }
};

/// Reads the options from `config`; errors name the key and the bad value.
absl::StatusOr<CheckpointingOptions> checkpointingOptionsFrom(const Configuration& config);

/// Where a job starts from, as Flink's SavepointRestoreSettings:
///
///   execution.savepoint.path                     a savepoint or retained checkpoint directory
///   execution.savepoint.ignore-unclaimed-state   false: state without a matching operator uid
///                                                fails the job instead of being dropped
struct SavepointRestoreSettings {
  std::string path;
  bool allowNonRestoredState = false;

  bool restores() const { return !path.empty(); }
};

absl::StatusOr<SavepointRestoreSettings> savepointRestoreSettingsFrom(const Configuration& config);

/// "EXACTLY_ONCE" or "AT_LEAST_ONCE".
const char* modeName(CheckpointingMode mode);

}  // namespace brook::checkpoint
