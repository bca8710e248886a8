#include "runtime/mini_cluster.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/state_assignment.h"
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
    case JobStatus::kRestarting:
      return "RESTARTING";
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

/// One attempt of a job: its partitions and tasks.
struct MiniClusterAttempt {
  std::vector<std::unique_ptr<ResultPartition>> partitions;
  std::vector<std::unique_ptr<StreamTask>> tasks;
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
  cancelled_.notify_all();
  if (running_ == nullptr)
    return;
  {
    std::lock_guard execLock(running_->mutex);
    running_->cancelled = true;
  }
  running_->cancelAll();
}

namespace {

/// What the attempts of one job share: the job, its checkpoint storage and coordinator, and
/// the attempt that runs now, which the coordinator's callbacks reach.
struct JobRun {
  const JobGraph& graph;
  const JobArgs& args;
  std::string jobId;
  std::string localStateDirectory;
  std::optional<checkpoint::FileCheckpointStorage> storage;
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator;
  std::unique_ptr<CheckpointResponder> responder;
  /// Changed on the executing thread between attempts, while no task runs.
  MiniClusterAttempt* current = nullptr;
};

/// Creates the partitions and tasks of one attempt, restoring from `restore` if set (the job's
/// own checkpoint that the coordinator continues from when `restoreContinuesCheckpoints`).
void deployAttempt(JobRun& run,
                   MiniClusterAttempt& exec,
                   int attemptNumber,
                   const checkpoint::RestoreSource* restore,
                   bool restoreContinuesCheckpoints) {
  const JobGraph& jg = run.graph;
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

  auto onComplete = [&run, &exec](TaskState state, const std::string& failure) {
    // A job with an ended task cannot complete another checkpoint: periodic triggering stops,
    // as in Flink without checkpoints after tasks finish.
    if (run.coordinator)
      run.coordinator->stop();
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
      env.jobId = run.jobId;
      env.jobGraph = &jg;
      env.args = &run.args;
      env.vertexId = v.id;
      env.subtaskIndex = i;
      env.attemptNumber = attemptNumber;
      env.localStateDirectory = run.localStateDirectory;
      if (run.storage)
        env.checkpointDirectory = run.storage->jobDirectory().string();
      env.checkpointingMode = jg.checkpointing.mode;
      env.checkpointResponder = run.responder.get();
      env.restore = restore;
      env.restoreContinuesCheckpoints = restoreContinuesCheckpoints;
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
}

}  // namespace

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
  auto failBeforeStart = [&](std::string failure) {
    result.failure = std::move(failure);
    log->error("[{}] job '{}' FAILED: {}", result.jobId, jg.jobName, result.failure);
    report(JobStatus::kFailed);
    return result;
  };
  report(JobStatus::kCreated);

  JobRun run{jg, args, result.jobId, {}, std::nullopt, nullptr, nullptr, nullptr};
  // Local state of this execution's tasks (RocksDB), created when first needed and removed
  // when the job ends.
  run.localStateDirectory =
      (std::filesystem::path(jg.temporaryDirectory.empty() ? temporaryDirectory(Configuration{})
                                                           : jg.temporaryDirectory) /
       absl::StrFormat("brook-minicluster-%s", result.jobId))
          .string();

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

  // The savepoint (or retained checkpoint) the job starts from.
  std::optional<checkpoint::RestoreSource> initialRestore;
  if (jg.savepointRestore.restores()) {
    std::vector<std::string> warnings;
    absl::StatusOr<checkpoint::RestoreSource> source =
        checkpoint::loadRestoreSourceForJob(jg.savepointRestore, operators, &warnings);
    if (!source.ok())
      return failBeforeStart(std::string(source.status().message()));
    for (const std::string& w : warnings)
      log->warn("[{}] restoring from '{}': {}", result.jobId, jg.savepointRestore.path, w);
    log->info("[{}] job '{}' starts from {} {} in '{}'", result.jobId, jg.jobName,
              source->metadata.isSavepoint ? "the savepoint of checkpoint" : "checkpoint",
              source->metadata.checkpointId, source->directory.string());
    initialRestore = *std::move(source);
  }

  if (jg.checkpointing.enabled()) {
    absl::StatusOr<checkpoint::FileCheckpointStorage> storage =
        checkpoint::FileCheckpointStorage::open(jg.checkpointing.directory, result.jobId);
    if (!storage.ok()) {
      return failBeforeStart(absl::StrFormat("%s: %s", config_keys::kCheckpointsDirectory,
                                             storage.status().message()));
    }
    run.storage = *storage;
    checkpoint::CheckpointCoordinator::Callbacks callbacks;
    callbacks.triggerSources = [&run](int64_t id, int64_t timestamp, bool isSavepoint,
                                      const std::filesystem::path&) -> absl::Status {
      for (auto& task : run.current->tasks) {
        if (!run.graph.vertices[static_cast<size_t>(task->vertexId())].isSource)
          continue;
        if (!task->triggerCheckpoint(id, timestamp, isSavepoint)) {
          return absl::FailedPreconditionError(
              absl::StrFormat("task '%s' is not running", task->description()));
        }
      }
      return absl::OkStatus();
    };
    callbacks.notifyComplete = [&run](int64_t id) {
      for (auto& task : run.current->tasks)
        task->notifyCheckpointComplete(id);
    };
    callbacks.notifyAborted = [&run, log](int64_t id, const std::string& reason) {
      log->info("[{}] {}", run.jobId, reason);
      for (auto& task : run.current->tasks)
        task->notifyCheckpointAborted(id);
    };
    callbacks.failJob = [&run](const std::string& reason) { run.current->fail(reason); };
    run.coordinator = std::make_unique<checkpoint::CheckpointCoordinator>(
        result.jobId, jg.checkpointing, *std::move(storage), operators, subtasks,
        std::move(callbacks), initialRestore ? initialRestore->metadata.checkpointId : 0);
    run.responder =
        std::make_unique<DirectCheckpointResponder>(result.jobId, run.coordinator.get());
  }

  RestartStrategy restartStrategy(jg.restartStrategy);
  const checkpoint::RestoreSource* restore = initialRestore ? &*initialRestore : nullptr;
  std::optional<checkpoint::RestoreSource> restoredCheckpoint;
  bool failed = false;
  bool cancelled = false;
  std::string failure;
  for (int attempt = 0;; ++attempt) {
    MiniClusterAttempt exec;
    run.current = &exec;
    // Once a restart restored a checkpoint of this run, `restore` points to it.
    deployAttempt(run, exec, attempt, restore,
                  run.coordinator != nullptr && restoredCheckpoint.has_value());
    {
      std::lock_guard lock(mutex_);
      running_ = &exec;
      if (cancelRequested_)
        exec.cancelled = true;
    }
    log->info("[{}] job '{}' with {} tasks switched to RUNNING{}", result.jobId, jg.jobName,
              exec.tasks.size(),
              attempt == 0 ? "" : absl::StrFormat(" (attempt %d)", attempt + 1));
    report(JobStatus::kRunning);
    if (exec.cancelled)
      exec.cancelAll();

    std::vector<std::jthread> threads;
    threads.reserve(exec.tasks.size());
    for (auto& t : exec.tasks)
      threads.emplace_back([task = t.get()] { task->run(); });

    if (run.coordinator)
      run.coordinator->start(epochMillis());
    // The coordinator's clock ticks on this thread while the job runs.
    const auto tick = run.coordinator ? std::chrono::milliseconds(std::clamp<int64_t>(
                                            jg.checkpointing.intervalMillis / 4, 1, 50))
                                      : std::chrono::milliseconds(200);
    bool decided = false;
    bool restart = false;
    {
      std::unique_lock lock(exec.mutex);
      while (exec.remaining > 0 || !decided) {
        if (exec.remaining > 0)
          exec.done.wait_for(lock, tick);
        if (run.coordinator && !exec.failed && !exec.cancelled && exec.remaining > 0) {
          lock.unlock();
          run.coordinator->onTick(epochMillis());
          lock.lock();
        }
        if (!decided && (exec.failed || exec.cancelled)) {
          // The first failure decides, while the other tasks are being cancelled.
          decided = true;
          JobStatus s = JobStatus::kCancelling;
          if (exec.failed && !exec.cancelled) {
            restartStrategy.notifyFailure(epochMillis());
            restart = restartStrategy.canRestart();
            s = restart ? JobStatus::kRestarting : JobStatus::kFailing;
          }
          lock.unlock();
          report(s);
          lock.lock();
        }
        if (exec.remaining == 0)
          decided = true;
      }
    }
    for (auto& t : threads)
      t.join();
    {
      std::lock_guard lock(mutex_);
      running_ = nullptr;
      if (cancelRequested_)
        exec.cancelled = true;
    }
    if (run.coordinator) {
      run.coordinator->stop();
      run.coordinator->abortPending(restart ? "the job is restarting" : "the job has ended");
    }
    for (auto& p : exec.partitions)
      p->releaseAll();
    run.current = nullptr;

    if (exec.cancelled) {
      cancelled = true;
      break;
    }
    if (!exec.failed)
      break;
    if (!restart) {
      failed = true;
      failure = exec.failure;
      break;
    }
    const int64_t delay = restartStrategy.backoffMillis();
    log->info("[{}] restarting job '{}' in {} ms ({}) after: {}", result.jobId, jg.jobName, delay,
              restartStrategy.description(), exec.failure);
    {
      std::unique_lock lock(mutex_);
      if (cancelled_.wait_for(lock, std::chrono::milliseconds(delay),
                              [this] { return cancelRequested_; })) {
        cancelled = true;
        break;
      }
    }
    // The new attempt starts from the latest usable completed checkpoint, else from where the
    // job started.
    if (run.storage) {
      std::vector<std::string> warnings;
      absl::StatusOr<checkpoint::FileCheckpointStorage::Restorable> latest =
          run.storage->latestRestorable(&warnings);
      for (const std::string& w : warnings)
        log->warn("[{}] {}", result.jobId, w);
      if (latest.ok()) {
        restoredCheckpoint = checkpoint::RestoreSource{std::move(latest->metadata),
                                                       std::move(latest->directory)};
        restore = &*restoredCheckpoint;
        if (run.coordinator)
          run.coordinator->continueFrom(restoredCheckpoint->metadata);
        log->info("[{}] restoring job '{}' from checkpoint {}", result.jobId, jg.jobName,
                  restore->metadata.checkpointId);
      } else if (!absl::IsNotFound(latest.status())) {
        failed = true;
        failure = absl::StrCat("cannot restart after '", exec.failure,
                               "': ", latest.status().message());
        break;
      }
    }
    ++result.restarts;
  }

  if (run.coordinator) {
    result.completedCheckpoints = run.coordinator->counts().completed;
    if (std::optional<checkpoint::CheckpointMetadata> latest = run.coordinator->latestCompleted()) {
      result.latestCheckpoint = run.storage->checkpointDirectory(latest->checkpointId).string();
    }
  }
  {
    std::lock_guard lock(mutex_);
    cancelRequested_ = false;
  }
  std::error_code removeError;
  std::filesystem::remove_all(run.localStateDirectory, removeError);
  if (removeError) {
    log->warn("[{}] cannot remove the local state directory '{}': {}", result.jobId,
              run.localStateDirectory, removeError.message());
  }

  result.durationMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  if (failed) {
    result.failure = failure;
    log->error("[{}] job '{}' FAILED: {}", result.jobId, jg.jobName, failure);
    report(JobStatus::kFailed);
  } else if (cancelled) {
    log->info("[{}] job '{}' CANCELED", result.jobId, jg.jobName);
    report(JobStatus::kCanceled);
  } else {
    log->info("[{}] job '{}' FINISHED in {} ms", result.jobId, jg.jobName, result.durationMillis);
    report(JobStatus::kFinished);
  }
  return result;
}

}  // namespace brook::runtime
