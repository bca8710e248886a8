#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "brook/brook.pb.h"
#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/state_assignment.h"
#include "common/configuration.h"

namespace grpc {
class Channel;
}

namespace brook::jobmanager {

/// The checkpoints of one job on the cluster: its checkpoint storage and CheckpointCoordinator,
/// the calls that trigger and confirm checkpoints at the TaskManagers, and the checkpoint or
/// savepoint each attempt of the job restores from. Thread-safe; the coordinator's own thread
/// rules apply (see CheckpointCoordinator).
class JobCheckpointing {
 public:
  /// What the JobMaster lends: its TaskManagers and the job's failure path.
  struct Hooks {
    /// RPC addresses of the TaskManagers that run source subtasks / any subtask of the attempt.
    std::function<std::vector<std::string>()> sourceTaskManagers;
    std::function<std::vector<std::string>()> taskManagers;
    std::function<std::shared_ptr<grpc::Channel>(const std::string& address)> channelTo;
    /// More checkpoints failed in a row than tolerated: the attempt fails with `reason`.
    std::function<void(const std::string& reason)> failAttempt;
  };

  /// Reads the job's checkpointing options and `execution.savepoint.*` from `jobConfig`. With
  /// a savepoint path, checks it (files, operator uids, max parallelism) and makes it what
  /// the first attempt restores. Errors say what is wrong with the configuration or savepoint.
  static absl::StatusOr<std::unique_ptr<JobCheckpointing>> create(
      std::string jobId, const v1::JobGraph& graph, const Configuration& jobConfig, Hooks hooks);
  ~JobCheckpointing();

  /// Whether the job takes periodic checkpoints (and so can take savepoints).
  bool enabled() const { return coordinator_ != nullptr; }
  /// The job's checkpoint folder, for the tasks; empty when checkpointing is off.
  std::string checkpointDirectory() const;
  /// The checkpoint or savepoint the next attempt restores from; empty for a fresh start.
  std::string restoreDirectory() const;
  /// Whether that is the job's own checkpoint, which the checkpoint coordinator continues from.
  bool restoreContinuesCheckpoints() const;

  /// An attempt's tasks are deployed: periodic checkpoints start.
  void attemptStarted();
  /// A task of the attempt finished: the job cannot complete another checkpoint.
  void taskFinished();
  /// The attempt ends: periodic checkpoints stop and pending ones are aborted.
  void attemptEnded(const std::string& reason);
  /// Before a restart: the next attempt restores the latest usable completed checkpoint (a
  /// damaged newer one is skipped with a warning), or, without any, what the job started from.
  /// DataLoss when checkpoints exist and none is usable: the job must fail.
  absl::Status prepareRestart();

  /// Periodic work on the JobMaster's thread; `tickInterval` is how often it should run.
  void tick();
  std::chrono::milliseconds tickInterval() const;

  /// A task's acknowledgement or decline, as its TaskManager sent it.
  absl::Status acknowledge(const v1::AcknowledgeCheckpointRequest& request);

  /// Takes a savepoint into a new folder under `targetDirectory` (empty: state.savepoints.dir)
  /// and returns its path, waiting at most the checkpoint timeout. The savepoint is triggered
  /// by the next `tick`, on the JobMaster's thread like every periodic checkpoint, so that the
  /// sources receive the triggers in the order of their ids.
  absl::StatusOr<std::string> triggerSavepoint(const std::string& targetDirectory);

  /// Completed checkpoints so far and the newest one's folder (empty if none).
  int64_t completedCheckpoints() const;

 private:
  JobCheckpointing(std::string jobId, Hooks hooks) : jobId_(std::move(jobId)), hooks_(std::move(hooks)) {}
  /// Tells the TaskManagers that checkpoint `id` completed or was aborted, from the notifier
  /// thread, so that neither the acknowledging TaskManager nor the JobMaster waits on them.
  void notifyLater(int64_t id, bool complete);
  void notifyTaskManagers(int64_t id, bool complete);
  /// Calls `call` on every TaskManager in `addresses`; the first error, naming the address.
  absl::Status forEachTaskManager(
      const std::vector<std::string>& addresses,
      const std::function<absl::Status(const std::string& address)>& call) const;

  const std::string jobId_;
  const Hooks hooks_;
  checkpoint::CheckpointingOptions options_;
  std::string savepointsDirectory_;
  std::optional<checkpoint::FileCheckpointStorage> storage_;
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator_;
  mutable std::mutex mutex_;
  /// What the job started from, and what the next attempt restores.
  std::optional<checkpoint::RestoreSource> initial_;
  std::string restoreDirectory_;
  bool restoreContinuesCheckpoints_ = false;
  /// Savepoints asked for and not yet triggered.
  struct SavepointRequest {
    std::string target;
    checkpoint::SavepointCallback done;
  };
  std::deque<SavepointRequest> savepointRequests_;
  /// Notifications not yet sent: (checkpoint id, completed).
  std::deque<std::pair<int64_t, bool>> notifications_;
  std::condition_variable_any notificationAdded_;
  std::jthread notifier_;
};

}  // namespace brook::jobmanager
