#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>

#include "brook/brook.pb.h"
#include "common/configuration.h"
#include "jobmanager/job_checkpointing.h"
#include "jobmanager/resource_manager.h"
#include "runtime/restart_strategy.h"

namespace grpc {
class Channel;
}

namespace brook::jobmanager {

/// Runs one job on the cluster: allocates its slots from the ResourceManager (a job of
/// parallelism p needs p slots: slot i hosts subtask i of every vertex), deploys its tasks to
/// the TaskManagers in topological order, follows their state updates, and drives the job
/// through CREATED -> RUNNING -> FINISHED, or FAILING -> FAILED, CANCELLING -> CANCELED, and
/// RESTARTING -> RUNNING as the restart strategy allows. A restart starts the whole job again
/// as a new attempt, from the latest completed checkpoint when the job takes checkpoints
/// (JobCheckpointing), or from the savepoint it was started from. All methods are thread-safe; the job itself runs on the JobMaster's thread.
class JobMaster {
 public:
  struct Options {
    /// How the job reacts to a failed attempt (restart-strategy.*); a fresh one, as
    /// restartStrategyForJob() makes it.
    runtime::RestartStrategy restartStrategy;
    /// How long the job waits for enough free slots before it fails.
    std::chrono::milliseconds slotRequestTimeout{60000};
    /// Deadline of a deployment call (the first one of a job on a TaskManager also fetches the
    /// artifact and plans the job).
    std::chrono::milliseconds deployTimeout{60000};
    /// Deadline of a release call (cancels the job's tasks and waits for them).
    std::chrono::milliseconds releaseTimeout{15000};
  };

  JobMaster(std::string jobId, v1::JobGraph graph, Options options, ResourceManager* resources);
  /// Cancels the job if it still runs and waits for it to end.
  ~JobMaster();
  JobMaster(const JobMaster&) = delete;
  JobMaster& operator=(const JobMaster&) = delete;

  /// Starts running the job on its own thread.
  void start();
  /// Asks the job to cancel; it reaches CANCELED once its tasks stopped.
  void cancel();

  /// A task's state change as its TaskManager reported it. NotFound for another attempt.
  absl::Status updateTaskState(const v1::TaskStateUpdate& update);
  /// Fails the running attempt's tasks on a lost TaskManager.
  void onTaskManagerLost(const std::string& taskManagerId, const std::string& reason);
  /// A task's acknowledgement or decline of a checkpoint.
  absl::Status acknowledgeCheckpoint(const v1::AcknowledgeCheckpointRequest& request);
  /// Takes a savepoint into a new folder under `targetDirectory` (empty: state.savepoints.dir)
  /// and returns its path; with `stopJob` the job is cancelled once it is complete.
  /// FailedPrecondition when the job does not run or takes no checkpoints.
  absl::StatusOr<std::string> triggerSavepoint(const std::string& targetDirectory, bool stopJob);

  const std::string& jobId() const { return jobId_; }
  v1::JobStatus status() const;
  bool terminal() const;
  /// The job's status, failure and tasks, with backpressure from `resources`.
  v1::JobStatusResponse describe() const;

 private:
  /// A task of the running attempt; subtask i runs in slots_[i].
  struct TaskSlot {
    v1::ExecutionState state = v1::EXECUTION_STATE_UNSPECIFIED;
    std::string failure;
  };
  enum class AttemptOutcome { kFinished, kFailed, kCancelled };

  void run();
  void setStatus(v1::JobStatus status);
  /// Waits for slots, deploys and follows one attempt.
  AttemptOutcome runAttempt();
  absl::Status allocateSlots();
  absl::Status deployAll();
  /// Releases the attempt on every TaskManager it used, and frees its slots.
  void releaseAttempt();
  /// Records the attempt's first failure and wakes the job thread.
  void failAttempt(const std::string& failure);
  std::shared_ptr<grpc::Channel> channelTo(const std::string& address);
  std::string subpartitionId(int edge, int producer, int subpartition) const;

  const std::string jobId_;
  const v1::JobGraph graph_;
  const Options options_;
  /// A copy of options_.restartStrategy that counts the job's failures; job thread only.
  runtime::RestartStrategy restartStrategy_;
  ResourceManager* resources_;
  int parallelism_ = 1;
  std::vector<int> topologicalOrder_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  v1::JobStatus status_ = v1::JOB_STATUS_CREATED;
  bool cancelRequested_ = false;
  int attempt_ = 0;
  bool attemptFailed_ = false;
  std::string failure_;
  std::vector<ResourceManager::SlotAssignment> slots_;
  /// Per vertex, per subtask.
  std::vector<std::vector<TaskSlot>> tasks_;
  int64_t startMillis_ = 0;
  int64_t endMillis_ = 0;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  /// Checkpoints and restores; created in start(), or the reason it could not be.
  std::unique_ptr<JobCheckpointing> checkpointing_;
  absl::Status checkpointingError_;

  std::jthread thread_;
};

/// Reads the restart strategy from a job's or the cluster's configuration (restart-strategy.*,
/// see runtime/restart_strategy.h). Checkpointing counts as enabled when
/// execution.checkpointing.interval is above 0, which makes exponential-delay the default.
/// InvalidArgument names the key and the value at fault.
absl::StatusOr<runtime::RestartStrategy> restartStrategyForJob(const Configuration& config);

}  // namespace brook::jobmanager
