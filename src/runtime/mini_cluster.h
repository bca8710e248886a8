#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <brook/functions.h>

#include "common/configuration.h"
#include "runtime/job_graph.h"

namespace brook::runtime {

struct MiniClusterAttempt;

enum class JobStatus {
  kCreated,
  kRunning,
  kFinished,
  kFailing,
  kFailed,
  kCancelling,
  kCanceled,
  kRestarting
};
const char* jobStatusName(JobStatus status);

struct JobExecutionResult {
  std::string jobId;
  JobStatus status = JobStatus::kCreated;
  std::string failure;  ///< the first task failure, for FAILED jobs
  int64_t durationMillis = 0;
  /// Checkpoints (when enabled): how many completed, and the folder of the newest one, which
  /// stays in state.checkpoints.dir after the job ends.
  int64_t completedCheckpoints = 0;
  std::string latestCheckpoint;
  /// How often the job restarted after a task failure.
  int restarts = 0;
};

/// Runs jobs inside this process: every task of the JobGraph on its own thread, connected by
/// in-memory channels with the same buffers, serialization and backpressure as across
/// processes. Tasks keep local state files in a folder per execution under the JobGraph's
/// temporary directory (`io.tmp.dirs`), `brook-minicluster-<job id>`, removed when the job
/// ends. With `execution.checkpointing.interval` set, a CheckpointCoordinator takes periodic
/// checkpoints into `state.checkpoints.dir`. A job starts from the savepoint or checkpoint of
/// `execution.savepoint.path` when set. On a task failure the restart strategy
/// (`restart-strategy.*`) decides: the job fails, or every task is cancelled and the job runs
/// again as a new attempt, from the latest usable completed checkpoint (or from where it
/// started, when it has none). Thread-safe: `cancel` may be called while `execute` runs on
/// another thread.
class MiniCluster {
 public:
  using StatusListener = std::function<void(const std::string& jobId, JobStatus)>;

  MiniCluster() = default;
  ~MiniCluster();
  MiniCluster(const MiniCluster&) = delete;
  MiniCluster& operator=(const MiniCluster&) = delete;

  /// Runs `jobGraph` until it finishes, fails, or is cancelled; reports status changes to
  /// `listener` (on the calling thread or a task thread).
  JobExecutionResult execute(const JobGraph& jobGraph,
                             const JobArgs& args,
                             const StatusListener& listener = {});

  /// Cancels the running job, if any; `execute` returns CANCELED once every task stopped.
  void cancel();

 private:
  std::mutex mutex_;
  std::condition_variable cancelled_;
  MiniClusterAttempt* running_ = nullptr;  // the attempt that runs now
  bool cancelRequested_ = false;
};

/// A new random job id: 32 hex digits, as Flink's JobID.
std::string newJobId();

}  // namespace brook::runtime
