#pragma once

/// The CheckpointCoordinator of a JobMaster, as Flink's: triggers checkpoints at the source
/// tasks (periodically, or when a savepoint is asked for), collects every task's acknowledgement
/// with the state it wrote, completes a checkpoint by writing its metadata atomically and then
/// notifies the tasks, and aborts checkpoints that are declined or time out. More failed
/// checkpoints in a row than tolerated fail the job.
///
/// The coordinator keeps no clock and no thread: the JobMaster calls `onTick` with the current
/// time (and the RPC handlers call `acknowledge` / `decline`), so every decision is a function of
/// the calls it received. It is thread-safe; callbacks run on the caller's thread without the
/// coordinator's lock held, in the order the coordinator decided them.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "checkpoint/checkpoint_metadata.h"
#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/checkpointing_options.h"

namespace brook::checkpoint {

/// One parallel subtask of a job vertex.
struct SubtaskId {
  int vertexId = 0;
  int subtaskIndex = 0;
  auto operator<=>(const SubtaskId&) const = default;
};

/// An operator whose state checkpoints hold, bound by its uid.
struct OperatorDescription {
  std::string uid;
  std::string name;
  int vertexId = 0;
  int parallelism = 1;
  int maxParallelism = 128;
};

/// What a task acknowledges: per operator of its chain (by uid), what its subtask wrote.
struct TaskAcknowledgement {
  SubtaskId task;
  std::vector<std::pair<std::string, SubtaskStateMetadata>> operators;
};

/// Why a task declined a checkpoint. Only failures count toward the tolerable failed
/// checkpoints, as in Flink: a task that has finished, or a checkpoint overtaken by a newer one,
/// does not.
enum class DeclineReason { kFailure, kTaskNotRunning, kSubsumed };

/// The result a savepoint's requester receives: the savepoint's directory, or why it failed.
using SavepointCallback = std::function<void(absl::StatusOr<std::filesystem::path>)>;

class CheckpointCoordinator {
 public:
  struct Callbacks {
    /// Starts checkpoint `id` at every source task; tasks write their state files into
    /// `directory` (the storage's chk-<id> folder, also for savepoints, which move to their
    /// target once complete). An error aborts the checkpoint; FailedPrecondition (not all tasks
    /// are running) without counting as a failed checkpoint.
    std::function<absl::Status(int64_t id, int64_t timestampMillis, bool isSavepoint,
                               const std::filesystem::path& directory)>
        triggerSources;
    std::function<void(int64_t id)> notifyComplete;
    std::function<void(int64_t id, const std::string& reason)> notifyAborted;
    /// More checkpoints failed in a row than tolerated.
    std::function<void(const std::string& reason)> failJob;
  };

  /// `tasks` are the subtasks that must acknowledge every checkpoint; `operators` the operators
  /// whose state it records. Checkpoint ids continue after `lastCheckpointId` (the one the job
  /// was restored from, or 0).
  CheckpointCoordinator(std::string jobId, CheckpointingOptions options,
                        FileCheckpointStorage storage, std::vector<OperatorDescription> operators,
                        std::vector<SubtaskId> tasks, Callbacks callbacks,
                        int64_t lastCheckpointId = 0);

  /// Starts periodic checkpoints (when the interval is set): the first is due one interval
  /// after `nowMillis`.
  void start(int64_t nowMillis);
  /// Stops periodic checkpoints; pending ones go on.
  void stop();

  /// Periodic work: triggers a checkpoint when one is due and allowed (interval since the last
  /// trigger, min pause since the last completion, fewer pending than the maximum), and aborts
  /// pending checkpoints older than the timeout.
  void onTick(int64_t nowMillis);

  /// Triggers a checkpoint now, regardless of the interval (still within the maximum of
  /// concurrent checkpoints). Returns its id.
  absl::StatusOr<int64_t> triggerCheckpoint(int64_t nowMillis);

  /// Triggers a savepoint that becomes a new folder under `targetDirectory` (a file:// URI or a
  /// path) once complete; `done` receives its path, or the error. Savepoints ignore the interval,
  /// the min pause and the maximum of concurrent checkpoints, as in Flink.
  absl::StatusOr<int64_t> triggerSavepoint(int64_t nowMillis, const std::string& targetDirectory,
                                           SavepointCallback done);

  /// A task's acknowledgement of checkpoint `id`. NotFound for a checkpoint that is no longer
  /// pending (the late acknowledgement is dropped); InvalidArgument for a task or operator the
  /// checkpoint does not expect.
  absl::Status acknowledge(int64_t id, const TaskAcknowledgement& ack, int64_t nowMillis);

  /// A task declined checkpoint `id`: it is aborted (a failure when `why` is kFailure).
  void decline(int64_t id, SubtaskId task, DeclineReason why, const std::string& reason,
               int64_t nowMillis);

  /// Aborts every pending checkpoint without counting failures (the job fails over or stops).
  void abortPending(const std::string& reason);

  /// The newest completed checkpoint (not savepoint) of this run.
  std::optional<CheckpointMetadata> latestCompleted() const;

  /// The job restarts from `restored`, one of its own completed checkpoints (an older one when
  /// the newest could not be restored): later checkpoints build on it, their incremental
  /// snapshots referencing the shared files that the tasks took over from it.
  void continueFrom(CheckpointMetadata restored);

  struct Counts {
    int64_t triggered = 0;
    int64_t completed = 0;
    int64_t failed = 0;
    int pending = 0;
  };
  Counts counts() const;

 private:
  struct Pending {
    int64_t id = 0;
    int64_t triggerMillis = 0;
    bool isSavepoint = false;
    /// Where the tasks write: the job's chk-<id> folder, also for savepoints.
    std::filesystem::path directory;
    /// Savepoints: where the completed savepoint is moved.
    std::filesystem::path savepointTarget;
    std::set<SubtaskId> waitingFor;
    std::map<std::string, std::vector<SubtaskStateMetadata>> states;  // by operator uid
    SavepointCallback done;
  };
  /// What to tell the outside world once the lock is released.
  using Actions = std::vector<std::function<void()>>;

  absl::StatusOr<int64_t> triggerLocked(int64_t nowMillis, bool isSavepoint,
                                        std::filesystem::path directory, SavepointCallback done,
                                        Actions& actions);
  void completeLocked(Pending pending, int64_t nowMillis, Actions& actions);
  /// Fills in the paths of the shared files that tasks acknowledged by placeholder, from the
  /// latest completed checkpoint; returns what is wrong when one is not there.
  std::string resolveSharedFilePlaceholders(CheckpointMetadata& metadata) const;
  void abortLocked(int64_t id, const std::string& reason, bool countsAsFailure,
                   Actions& actions);
  void failureLocked(const std::string& reason, Actions& actions);
  static void run(Actions& actions);

  const std::string jobId_;
  const CheckpointingOptions options_;
  const FileCheckpointStorage storage_;
  const std::vector<OperatorDescription> operators_;
  const std::vector<SubtaskId> tasks_;
  const Callbacks callbacks_;

  mutable std::mutex mutex_;
  int64_t nextId_;
  bool periodic_ = false;
  int64_t nextTriggerMillis_ = 0;
  int64_t lastCompletionMillis_ = INT64_MIN;
  int consecutiveFailures_ = 0;
  std::map<int64_t, Pending> pending_;
  std::optional<CheckpointMetadata> latest_;
  Counts counts_;
};

}  // namespace brook::checkpoint
