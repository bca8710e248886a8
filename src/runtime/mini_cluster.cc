#include "runtime/mini_cluster.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <absl/strings/str_format.h>

#include "checkpoint/checkpoint_coordinator.h"
#include "common/logging.h"
#include "runtime/checkpoint_responder.h"
#include "runtime/result_partition.h"
#include "runtime/stream_task.h"

namespace brook::runtime {

const char* jobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kCreated:
      return "CREATED";
    case JobStatus::kRunning:
      return "RUNNING";
    case JobStatus::kFinished:
      return "FINISHED";
    case JobStatus::kFailing:
      return "FAILING";
    case JobStatus::kFailed:
      return "FAILED";
    case JobStatus::kCancelling:
      return "CANCELLING";
    case JobStatus::kCanceled:
      return "CANCELED";
  }
  return "UNKNOWN";
}

std::string newJobId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return absl::StrFormat("%016x%016x", gen(), gen());
}

namespace {

int64_t epochMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Hands the tasks' acknowledgements straight to the coordinator.
class DirectCheckpointResponder final : public CheckpointResponder {
 public:
  DirectCheckpointResponder(std::string jobId, checkpoint::CheckpointCoordinator* coordinator)
      : jobId_(std::move(jobId)), coordinator_(coordinator) {}
  void acknowledge(int64_t checkpointId, const checkpoint::TaskAcknowledgement& ack) override {
    absl::Status status = coordinator_->acknowledge(checkpointId, ack, epochMillis());
    if (!status.ok())
      getLogger("runtime")->debug("[{}] acknowledgement dropped: {}", jobId_, status.message());
  }
  void decline(int64_t checkpointId, checkpoint::SubtaskId task, checkpoint::DeclineReason why,
               const std::string& reason) override {
    coordinator_->decline(checkpointId, task, why, reason, epochMillis());
  }

 private:
  std::string jobId_;
  checkpoint::CheckpointCoordinator* coordinator_;
};

}  // namespace

struct MiniCluster::Execution {
  std::vector<std::unique_ptr<ResultPartition>> partitions;
  std::vector<std::unique_ptr<StreamTask>> tasks;
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator;
  std::unique_ptr<CheckpointResponder> responder;
  std::mutex mutex;
  std::condition_variable done;
  int remaining = 0;
  bool failed = false;
  bool cancelled = false;
  std::string failure;

  void cancelAll() {
    for (auto& t : tasks)
      t->cancel();
  }
  void fail(const std::string& message) {
    {
      std::lock_guard lock(mutex);
      if (failed)
        return;
      failed = true;
      failure = message;
    }
    cancelAll();
    done.notify_all();
  }
};

MiniCluster::~MiniCluster() {
  cancel();
}

void MiniCluster::cancel() {
  std::lock_guard lock(mutex_);
  cancelRequested_ = true;
  if (running_ == nullptr)
    return;
  {
    std::lock_guard execLock(running_->mutex);
    running_->cancelled = true;
  }
  running_->cancelAll();
}

JobExecutionResult MiniCluster::execute(const JobGraph& jg,
                                        const JobArgs& args,
                                        const StatusListener& listener) {
  auto log = getLogger("runtime");
  auto start = std::chrono::steady_clock::now();
  JobExecutionResult result;
  result.jobId = newJobId();
  auto report = [&](JobStatus s) {
    result.status = s;
    if (listener)
      listener(result.jobId, s);
  };
  report(JobStatus::kCreated);

  Execution exec;
  // Local state of this execution's tasks (RocksDB), created when first needed and removed
  // when the job ends.
  const std::string localStateDirectory =
      (std::filesystem::path(jg.temporaryDirectory.empty() ? temporaryDirectory(Configuration{})
                                                           : jg.temporaryDirectory) /
       absl::StrFormat("brook-minicluster-%s", result.jobId))
          .string();
  // partitionOf[edge][producer subtask]
  std::vector<std::vector<ResultPartition*>> partitionOf(jg.edges.size());
  for (const JobEdge& e : jg.edges) {
    const JobVertex& src = jg.vertices[static_cast<size_t>(e.sourceVertex)];
    const JobVertex& dst = jg.vertices[static_cast<size_t>(e.targetVertex)];
    int subpartitions = e.partitioner == PartitionerKind::kForward ? 1 : dst.parallelism;
    int buffers = subpartitions * jg.buffersPerChannel + jg.floatingBuffersPerGate;
    for (int i = 0; i < src.parallelism; ++i) {
      exec.partitions.push_back(
          std::make_unique<ResultPartition>(subpartitions, buffers, jg.bufferSize));
      partitionOf[static_cast<size_t>(e.id)].push_back(exec.partitions.back().get());
    }
  }

  std::string checkpointDirectory;
  if (jg.checkpointing.enabled()) {
    absl::StatusOr<checkpoint::FileCheckpointStorage> storage =
        checkpoint::FileCheckpointStorage::open(jg.checkpointing.directory, result.jobId);
    if (!storage.ok()) {
      result.failure = absl::StrFormat("%s: %s", config_keys::kCheckpointsDirectory,
                                       storage.status().message());
      log->error("[{}] job '{}' FAILED: {}", result.jobId, jg.jobName, result.failure);
      report(JobStatus::kFailed);
      return result;
    }
    checkpointDirectory = storage->jobDirectory().string();
    std::vector<checkpoint::OperatorDescription> operators;
    std::vector<checkpoint::SubtaskId> subtasks;
    for (const JobVertex& v : jg.vertices) {
      for (int node : v.chainedNodes) {
        operators.push_back({jg.operatorIds[static_cast<size_t>(node)],
                             jg.streamGraph->nodes[static_cast<size_t>(node)].name, v.id,
                             v.parallelism, v.maxParallelism});
      }
      for (int i = 0; i < v.parallelism; ++i)
        subtasks.push_back({v.id, i});
    }
    checkpoint::CheckpointCoordinator::Callbacks callbacks;
    callbacks.triggerSources = [&exec, &jg](int64_t id, int64_t timestamp, bool,
                                            const std::filesystem::path&) -> absl::Status {
      for (auto& task : exec.tasks) {
        if (!jg.vertices[static_cast<size_t>(task->vertexId())].isSource)
          continue;
        if (!task->triggerCheckpoint(id, timestamp)) {
          return absl::FailedPreconditionError(
              absl::StrFormat("task '%s' is not running", task->description()));
        }
      }
      return absl::OkStatus();
    };
    callbacks.notifyComplete = [&exec](int64_t id) {
      for (auto& task : exec.tasks)
        task->notifyCheckpointComplete(id);
    };
    callbacks.notifyAborted = [&exec, &result, log](int64_t id, const std::string& reason) {
      log->info("[{}] {}", result.jobId, reason);
      for (auto& task : exec.tasks)
        task->notifyCheckpointAborted(id);
    };
    callbacks.failJob = [&exec](const std::string& reason) { exec.fail(reason); };
    exec.coordinator = std::make_unique<checkpoint::CheckpointCoordinator>(
        result.jobId, jg.checkpointing, *std::move(storage), std::move(operators),
        std::move(subtasks), std::move(callbacks));
    exec.responder =
        std::make_unique<DirectCheckpointResponder>(result.jobId, exec.coordinator.get());
  }

  auto onComplete = [&exec](TaskState state, const std::string& failure) {
    // A job with an ended task cannot complete another checkpoint: periodic triggering stops,
    // as in Flink without checkpoints after tasks finish.
    if (exec.coordinator)
      exec.coordinator->stop();
    bool cancelOthers = false;
    {
      std::lock_guard lock(exec.mutex);
      if (state == TaskState::kFailed && !exec.failed) {
        exec.failed = true;
        exec.failure = failure;
        cancelOthers = true;
      }
      --exec.remaining;
    }
    if (cancelOthers)
      exec.cancelAll();
    exec.done.notify_all();
  };

  for (const JobVertex& v : jg.vertices) {
    for (int i = 0; i < v.parallelism; ++i) {
      StreamTask::Environment env;
      env.jobId = result.jobId;
      env.jobGraph = &jg;
      env.args = &args;
      env.vertexId = v.id;
      env.subtaskIndex = i;
      env.localStateDirectory = localStateDirectory;
      env.checkpointDirectory = checkpointDirectory;
      env.checkpointingMode = jg.checkpointing.mode;
      env.checkpointResponder = exec.responder.get();
      for (int e : v.outputs)
        env.outputs.push_back(partitionOf[static_cast<size_t>(e)][static_cast<size_t>(i)]);
      for (int e : v.inputs) {
        const JobEdge& je = jg.edges[static_cast<size_t>(e)];
        std::vector<ResultSubpartition*> channels;
        if (je.partitioner == PartitionerKind::kForward) {
          channels.push_back(
              &partitionOf[static_cast<size_t>(e)][static_cast<size_t>(i)]->subpartition(0));
        } else {
          for (ResultPartition* p : partitionOf[static_cast<size_t>(e)]) {
            channels.push_back(&p->subpartition(i));
          }
        }
        env.inputs.push_back(std::move(channels));
      }
      exec.tasks.push_back(std::make_unique<StreamTask>(std::move(env), onComplete));
    }
  }
  exec.remaining = static_cast<int>(exec.tasks.size());

  {
    std::lock_guard lock(mutex_);
    running_ = &exec;
    if (cancelRequested_)
      exec.cancelled = true;
  }
  log->info("[{}] job '{}' with {} tasks switched to RUNNING", result.jobId, jg.jobName,
            exec.tasks.size());
  report(JobStatus::kRunning);
  if (exec.cancelled)
    exec.cancelAll();

  std::vector<std::jthread> threads;
  threads.reserve(exec.tasks.size());
  for (auto& t : exec.tasks)
    threads.emplace_back([task = t.get()] { task->run(); });

  if (exec.coordinator)
    exec.coordinator->start(epochMillis());
  // The coordinator's clock ticks on this thread while the job runs.
  const auto tick = exec.coordinator
                        ? std::chrono::milliseconds(std::clamp<int64_t>(
                              jg.checkpointing.intervalMillis / 4, 1, 50))
                        : std::chrono::milliseconds(200);
  bool reportedTransition = false;
  {
    std::unique_lock lock(exec.mutex);
    while (exec.remaining > 0) {
      exec.done.wait_for(lock, tick);
      if (exec.coordinator && !exec.failed && !exec.cancelled) {
        lock.unlock();
        exec.coordinator->onTick(epochMillis());
        lock.lock();
      }
      if (!reportedTransition && (exec.failed || exec.cancelled) && exec.remaining > 0) {
        reportedTransition = true;
        JobStatus s = exec.failed ? JobStatus::kFailing : JobStatus::kCancelling;
        lock.unlock();
        report(s);
        lock.lock();
      }
    }
  }
  for (auto& t : threads)
    t.join();
  if (exec.coordinator) {
    exec.coordinator->stop();
    exec.coordinator->abortPending("the job has ended");
    result.completedCheckpoints = exec.coordinator->counts().completed;
    if (std::optional<checkpoint::CheckpointMetadata> latest = exec.coordinator->latestCompleted()) {
      result.latestCheckpoint =
          (std::filesystem::path(checkpointDirectory) / absl::StrFormat("chk-%d", latest->checkpointId))
              .string();
    }
  }
  {
    std::lock_guard lock(mutex_);
    running_ = nullptr;
    cancelRequested_ = false;
  }
  for (auto& p : exec.partitions)
    p->releaseAll();
  std::error_code removeError;
  std::filesystem::remove_all(localStateDirectory, removeError);
  if (removeError) {
    log->warn("[{}] cannot remove the local state directory '{}': {}", result.jobId,
              localStateDirectory, removeError.message());
  }

  result.durationMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  if (exec.failed) {
    result.failure = exec.failure;
    log->error("[{}] job '{}' FAILED: {}", result.jobId, jg.jobName, exec.failure);
    report(JobStatus::kFailed);
  } else if (exec.cancelled) {
    log->info("[{}] job '{}' CANCELED", result.jobId, jg.jobName);
    report(JobStatus::kCanceled);
  } else {
    log->info("[{}] job '{}' FINISHED in {} ms", result.jobId, jg.jobName, result.durationMillis);
    report(JobStatus::kFinished);
  }
  return result;
}

}  // namespace brook::runtime
