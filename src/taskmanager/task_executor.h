#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/status/status.h>

#include "brook/brook.pb.h"
#include "runtime/network/network_environment.h"
#include "runtime/stream_task.h"

namespace brook::taskmanager {

class BlobCache;

/// One task's change of state, for the JobMaster.
struct TaskStateChange {
  std::string jobId;
  int vertexId = -1;
  int subtaskIndex = 0;
  int attemptNumber = 0;
  runtime::TaskState state = runtime::TaskState::kCreated;
  std::string failure;
};

/// Runs the subtasks that the JobMaster deploys to this TaskManager. Per job it fetches the
/// artifact once, loads the library, plans the job from its arguments and checks that the plan
/// is the submitted one; per subtask it creates the result partitions (served to local consumers
/// in memory and to other TaskManagers over the NetworkEnvironment), connects the input
/// channels, and runs a StreamTask on its own thread in the slot the JobMaster chose. Slot
/// sharing: a slot hosts one subtask of every vertex of one job. Thread-safe.
class TaskExecutor {
 public:
  struct Options {
    std::string taskManagerId;
    int numberOfSlots = 1;
    /// The size of this TaskManager's network receive buffers: the largest buffer a job's
    /// tasks may send.
    int networkBufferSize = 32 * 1024;
    /// How long releasing a job waits for its cancelled tasks to stop.
    std::chrono::milliseconds cancelTimeout{10000};
    /// Where tasks keep local keyed state (RocksDB), each attempt of each keyed operator in
    /// its own folder, removed when the task ends. A folder of this TaskManager's (the owner
    /// removes it at shutdown); tasks of RocksDB jobs fail when it is empty.
    std::string localStateDirectory;
  };
  /// Receives every state change of every task, on the task's or the caller's thread. Must not
  /// block.
  using StateListener = std::function<void(TaskStateChange)>;
  /// Receives the tasks' acknowledgements and declines of checkpoints, for the JobMaster, on
  /// the task's thread. Must not block.
  using CheckpointListener = std::function<void(v1::AcknowledgeCheckpointRequest)>;

  TaskExecutor(Options options,
               BlobCache* blobCache,
               runtime::network::NetworkEnvironment* network,
               StateListener listener,
               CheckpointListener checkpointListener = {});
  /// Cancels and releases every job.
  ~TaskExecutor();
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  /// Deploys one subtask and starts it. Errors name what is wrong with the deployment
  /// (protocol version, slot, artifact, plan, channels); nothing of the subtask remains then.
  absl::Status deployTask(const v1::TaskDeployment& deployment);
  /// Cancels one subtask attempt; NotFound if it is not here.
  absl::Status cancelTask(const std::string& jobId, int vertexId, int subtaskIndex, int attempt);
  /// Cancels the job's tasks, waits for them to stop, releases its partitions and channels and
  /// frees its slots. Unknown jobs are ignored.
  void releaseJob(const std::string& jobId);
  /// Releases every job, e.g. when the JobManager is lost.
  void releaseAll(const std::string& reason);

  /// Starts checkpoint (or savepoint) `checkpointId` at the job's source tasks here.
  /// FailedPrecondition when one of them is not running (it cannot take part); NotFound for an
  /// unknown job.
  absl::Status triggerCheckpoint(const std::string& jobId,
                                 int64_t checkpointId,
                                 int64_t timestampMillis,
                                 bool isSavepoint = false);
  /// Tells the job's tasks here that checkpoint `checkpointId` completed / was aborted.
  void notifyCheckpointComplete(const std::string& jobId, int64_t checkpointId);
  void notifyCheckpointAborted(const std::string& jobId, int64_t checkpointId);

  /// Per slot, the job that uses it or an empty string.
  std::vector<std::string> slotJobs() const;
  /// Per running task ("job/vertex/subtask"), the share of time blocked on output buffers since
  /// the previous call.
  std::map<std::string, double> sampleBackpressure();
  /// Tasks that have not reached a terminal state.
  int runningTasks() const;
  /// Frees result partitions of released jobs that a remote reader held until now.
  void reapReleasedPartitions();

 private:
  struct Task;
  struct Job;
  /// Partitions of released jobs whose subpartitions were still being read remotely.
  struct Retired {
    std::vector<std::string> subpartitionIds;
    std::vector<std::unique_ptr<runtime::ResultPartition>> partitions;
  };

  absl::StatusOr<Job*> jobFor(const v1::TaskDeployment& deployment);
  absl::Status startTask(Job& job, const v1::TaskDeployment& deployment);
  /// Opens the channel that reads a subpartition of a producer in another TaskManager.
  absl::StatusOr<runtime::network::RemoteInputChannel*> connectRemoteChannel(
      const v1::InputChannelDescriptor& descriptor,
      std::shared_ptr<runtime::network::FloatingBufferPool> floating);
  void release(std::unique_ptr<Job> job);
  void onTaskEnded(Task* task, runtime::TaskState state, const std::string& failure);

  const Options options_;
  BlobCache* blobCache_;
  runtime::network::NetworkEnvironment* network_;
  StateListener listener_;
  CheckpointListener checkpointListener_;

  /// Serializes deployments and releases.
  std::mutex deployMutex_;
  mutable std::mutex mutex_;
  std::condition_variable taskEnded_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::vector<std::string> slotJobs_;
  /// Subpartitions of this TaskManager's producers, for consumers in the same TaskManager.
  absl::flat_hash_map<std::string, runtime::ResultSubpartition*> localSubpartitions_;
  std::vector<Retired> retired_;
  /// Jobs whose tasks did not stop within the cancel timeout; kept so nothing is freed under
  /// them.
  std::vector<std::unique_ptr<Job>> stuck_;
};

}  // namespace brook::taskmanager
