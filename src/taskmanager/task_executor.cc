#include "taskmanager/task_executor.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <thread>

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

#include <brook/stream_execution_environment.h>

#include "checkpoint/checkpoint_metadata_proto.h"
#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/state_assignment.h"
#include "common/configuration.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "runtime/job_graph.h"
#include "runtime/job_graph_proto.h"
#include "runtime/job_library.h"
#include "taskmanager/blob_cache.h"

namespace brook::taskmanager {

namespace {

std::string taskKey(const std::string& jobId, int vertexId, int subtaskIndex) {
  return absl::StrCat(jobId, "/", vertexId, "/", subtaskIndex);
}

absl::StatusOr<std::pair<std::string, int>> splitHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad producer data address '", address, "': expected HOST:PORT"));
  }
  return std::make_pair(address.substr(0, colon), port);
}

/// Hands a job's checkpoint acknowledgements to the executor's CheckpointListener.
class ListenerCheckpointResponder final : public runtime::CheckpointResponder {
 public:
  ListenerCheckpointResponder(std::string jobId, TaskExecutor::CheckpointListener listener)
      : jobId_(std::move(jobId)), listener_(std::move(listener)) {}
  void acknowledge(int64_t checkpointId, const checkpoint::TaskAcknowledgement& ack) override {
    v1::AcknowledgeCheckpointRequest request = start(checkpointId, ack.task);
    for (const auto& [uid, state] : ack.operators) {
      v1::AcknowledgeCheckpointRequest::OperatorState* op = request.add_operators();
      op->set_operator_uid(uid);
      checkpoint::toProto(state, op->mutable_state());
    }
    listener_(std::move(request));
  }
  void decline(int64_t checkpointId, checkpoint::SubtaskId task, checkpoint::DeclineReason why,
               const std::string& reason) override {
    v1::AcknowledgeCheckpointRequest request = start(checkpointId, task);
    request.set_declined(true);
    request.set_decline_reason(reason);
    switch (why) {
      case checkpoint::DeclineReason::kFailure:
        request.set_decline_kind(v1::AcknowledgeCheckpointRequest::DECLINE_KIND_FAILURE);
        break;
      case checkpoint::DeclineReason::kTaskNotRunning:
        request.set_decline_kind(v1::AcknowledgeCheckpointRequest::DECLINE_KIND_TASK_NOT_RUNNING);
        break;
      case checkpoint::DeclineReason::kSubsumed:
        request.set_decline_kind(v1::AcknowledgeCheckpointRequest::DECLINE_KIND_SUBSUMED);
        break;
    }
    listener_(std::move(request));
  }

 private:
  v1::AcknowledgeCheckpointRequest start(int64_t checkpointId, checkpoint::SubtaskId task) const {
    v1::AcknowledgeCheckpointRequest request;
    request.set_protocol_version(runtime::kProtocolVersion);
    request.set_job_id(jobId_);
    request.set_checkpoint_id(checkpointId);
    request.set_vertex_id(task.vertexId);
    request.set_subtask_index(task.subtaskIndex);
    return request;
  }

  std::string jobId_;
  TaskExecutor::CheckpointListener listener_;
};

}  // namespace

absl::StatusOr<runtime::network::RemoteInputChannel*> TaskExecutor::connectRemoteChannel(
    const v1::InputChannelDescriptor& descriptor,
    std::shared_ptr<runtime::network::FloatingBufferPool> floating) {
  BROOK_ASSIGN_OR_RETURN(auto hostPort, splitHostPort(descriptor.producer_data_address()));
  return network_->createInputChannel(hostPort.first, hostPort.second, descriptor.subpartition_id(),
                                      std::move(floating));
}

struct TaskExecutor::Task {
  std::string jobId;
  int vertexId = -1;
  int subtaskIndex = 0;
  int attemptNumber = 0;
  std::unique_ptr<runtime::StreamTask> streamTask;
  std::vector<runtime::network::RemoteInputChannel*> remoteChannels;
  std::atomic<bool> ended{false};
  std::jthread thread;
  // Backpressure sampling, under the executor's mutex.
  int64_t sampledNanos = 0;
  std::chrono::steady_clock::time_point sampledAt = std::chrono::steady_clock::now();
};

// Members in destruction order from the bottom up: tasks (whose operators are the library's
// code) go before the plan, the plan before the library.
struct TaskExecutor::Job {
  std::string jobId;
  /// Where the job's tasks report their checkpoints (to the CheckpointListener).
  std::unique_ptr<runtime::CheckpointResponder> responder;
  /// The checkpoints or savepoints the job's tasks restore from, by directory.
  std::map<std::string, std::unique_ptr<checkpoint::RestoreSource>> restores;
  std::unique_ptr<runtime::JobLibrary> library;
  std::unique_ptr<StreamExecutionEnvironment> env;
  JobArgs args;
  runtime::JobGraph graph;
  std::vector<std::unique_ptr<runtime::ResultPartition>> partitions;
  std::vector<std::string> subpartitionIds;
  std::list<std::unique_ptr<Task>> tasks;
};

TaskExecutor::TaskExecutor(Options options,
                           BlobCache* blobCache,
                           runtime::network::NetworkEnvironment* network,
                           StateListener listener,
                           CheckpointListener checkpointListener)
    : options_(std::move(options)),
      blobCache_(blobCache),
      network_(network),
      listener_(std::move(listener)),
      checkpointListener_(std::move(checkpointListener)),
      slotJobs_(static_cast<size_t>(options_.numberOfSlots)) {}

TaskExecutor::~TaskExecutor() {
  releaseAll("the TaskManager is shutting down");
}

absl::StatusOr<TaskExecutor::Job*> TaskExecutor::jobFor(const v1::TaskDeployment& d) {
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(d.job_id());
    if (it != jobs_.end())
      return it->second.get();
  }
  const v1::JobGraph& submitted = d.job_graph();
  BROOK_RETURN_IF_ERROR(runtime::validateJobGraphProto(submitted));
  auto job = std::make_unique<Job>();
  job->jobId = d.job_id();
  if (checkpointListener_)
    job->responder = std::make_unique<ListenerCheckpointResponder>(d.job_id(), checkpointListener_);
  BROOK_ASSIGN_OR_RETURN(std::string path, blobCache_->fetch(submitted.artifact_sha256()));
  BROOK_ASSIGN_OR_RETURN(job->library, runtime::JobLibrary::load(path));
  try {
    job->args = JobArgs::parse(std::vector<std::string>(submitted.job_arguments().begin(),
                                                        submitted.job_arguments().end()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("job arguments: ", e.what()));
  }
  Configuration config;
  for (const auto& [key, value] : submitted.configuration())
    config.set(key, value);
  job->env = std::make_unique<StreamExecutionEnvironment>(config.values());
  BROOK_RETURN_IF_ERROR(job->library->plan(*job->env, job->args));
  BROOK_ASSIGN_OR_RETURN(job->graph,
                         runtime::buildJobGraph(*job->env, config, job->library->name()));
  BROOK_RETURN_IF_ERROR(runtime::checkPlanMatches(submitted, job->graph));
  if (job->graph.bufferSize > options_.networkBufferSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job '", job->graph.jobName, "' uses network buffers of ", job->graph.bufferSize,
        " bytes (taskmanager.memory.segment-size) but TaskManager ", options_.taskManagerId,
        " receives at most ", options_.networkBufferSize, " bytes"));
  }
  getLogger("taskmanager")
      ->info("[{}] TaskManager {} loaded job '{}' from artifact {}", d.job_id(),
             options_.taskManagerId, job->graph.jobName, submitted.artifact_sha256());
  std::lock_guard lock(mutex_);
  Job* raw = job.get();
  jobs_.emplace(d.job_id(), std::move(job));
  return raw;
}

absl::Status TaskExecutor::deployTask(const v1::TaskDeployment& d) {
  BROOK_RETURN_IF_ERROR(checkProtocolVersion(d.protocol_version(), runtime::kProtocolVersion));
  if (d.job_id().empty())
    return absl::InvalidArgumentError("task deployment without a job id");
  if (d.slot_index() < 0 || d.slot_index() >= options_.numberOfSlots) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot ", d.slot_index(), " does not exist: TaskManager ",
                     options_.taskManagerId, " has ", options_.numberOfSlots, " slots"));
  }
  std::lock_guard deployLock(deployMutex_);
  reapReleasedPartitions();
  {
    std::lock_guard lock(mutex_);
    const std::string& owner = slotJobs_[static_cast<size_t>(d.slot_index())];
    if (!owner.empty() && owner != d.job_id()) {
      return absl::FailedPreconditionError(absl::StrCat("slot ", d.slot_index(), " of TaskManager ",
                                                        options_.taskManagerId, " is used by job ",
                                                        owner));
    }
  }
  BROOK_ASSIGN_OR_RETURN(Job * job, jobFor(d));
  absl::Status started = startTask(*job, d);
  if (!started.ok())
    return started;
  std::lock_guard lock(mutex_);
  slotJobs_[static_cast<size_t>(d.slot_index())] = d.job_id();
  return absl::OkStatus();
}

absl::Status TaskExecutor::startTask(Job& job, const v1::TaskDeployment& d) {
  const runtime::JobGraph& jg = job.graph;
  if (d.vertex_id() < 0 || static_cast<size_t>(d.vertex_id()) >= jg.vertices.size())
    return absl::InvalidArgumentError(absl::StrCat("vertex ", d.vertex_id(), " does not exist"));
  const runtime::JobVertex& v = jg.vertices[static_cast<size_t>(d.vertex_id())];
  if (d.subtask_index() < 0 || d.subtask_index() >= v.parallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("vertex '", v.name, "' has no subtask ", d.subtask_index()));
  }
  std::string description = absl::StrCat(v.name, " (", d.subtask_index() + 1, "/", v.parallelism,
                                         ")#", d.attempt_number());
  if (static_cast<size_t>(d.outputs_size()) != v.outputs.size() ||
      static_cast<size_t>(d.inputs_size()) != v.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("deployment of ", description, " has ", d.inputs_size(), " input gates and ",
                     d.outputs_size(), " result partitions; the vertex has ", v.inputs.size(),
                     " and ", v.outputs.size()));
  }

  // Result partitions, registered for local and remote consumers.
  std::vector<std::unique_ptr<runtime::ResultPartition>> partitions;
  std::vector<std::string> ids;
  auto unregister = [&] {
    std::lock_guard lock(mutex_);
    for (const std::string& id : ids) {
      localSubpartitions_.erase(id);
      (void)network_->unregisterSubpartition(id);
    }
  };
  runtime::StreamTask::Environment env;
  env.jobId = d.job_id();
  env.jobGraph = &jg;
  env.args = &job.args;
  env.vertexId = d.vertex_id();
  env.subtaskIndex = d.subtask_index();
  env.attemptNumber = d.attempt_number();
  env.localStateDirectory = options_.localStateDirectory;
  if (!d.checkpoint_directory().empty() && job.responder != nullptr) {
    env.checkpointDirectory = d.checkpoint_directory();
    env.checkpointingMode = jg.checkpointing.mode;
    env.checkpointResponder = job.responder.get();
  }
  if (!d.restore_directory().empty()) {
    // The JobMaster checked the checkpoint's files; each task checks those it reads.
    std::lock_guard lock(mutex_);
    std::unique_ptr<checkpoint::RestoreSource>& restore = job.restores[d.restore_directory()];
    if (restore == nullptr) {
      absl::StatusOr<checkpoint::CheckpointMetadata> metadata =
          checkpoint::readMetadata(d.restore_directory());
      if (!metadata.ok()) {
        job.restores.erase(d.restore_directory());
        return absl::Status(metadata.status().code(),
                            absl::StrCat("deployment of ", description, ": cannot restore from '",
                                         d.restore_directory(), "': ", metadata.status().message()));
      }
      restore = std::make_unique<checkpoint::RestoreSource>(
          checkpoint::RestoreSource{*std::move(metadata), d.restore_directory()});
    }
    env.restore = restore.get();
    env.restoreContinuesCheckpoints = d.restore_continues_checkpoints();
  }
  for (size_t i = 0; i < v.outputs.size(); ++i) {
    const runtime::JobEdge& e = jg.edges[static_cast<size_t>(v.outputs[i])];
    int subpartitions = e.partitioner == PartitionerKind::kForward
                            ? 1
                            : jg.vertices[static_cast<size_t>(e.targetVertex)].parallelism;
    const auto& wanted = d.outputs(static_cast<int>(i)).subpartition_ids();
    if (wanted.size() != subpartitions) {
      unregister();
      return absl::InvalidArgumentError(absl::StrCat("deployment of ", description, " names ",
                                                     wanted.size(), " subpartitions for edge ",
                                                     e.id, "; it has ", subpartitions));
    }
    partitions.push_back(std::make_unique<runtime::ResultPartition>(
        subpartitions, subpartitions * jg.buffersPerChannel + jg.floatingBuffersPerGate,
        jg.bufferSize));
    for (int s = 0; s < subpartitions; ++s) {
      const std::string& id = wanted.Get(s);
      runtime::ResultSubpartition* sp = &partitions.back()->subpartition(s);
      std::lock_guard lock(mutex_);
      if (!localSubpartitions_.emplace(id, sp).second) {
        unregister();
        return absl::AlreadyExistsError(absl::StrCat("subpartition '", id, "' exists"));
      }
      absl::Status registered = network_->registerSubpartition(id, sp);
      if (!registered.ok()) {
        localSubpartitions_.erase(id);
        unregister();
        return registered;
      }
      ids.push_back(id);
    }
    env.outputs.push_back(partitions.back().get());
  }

  // Input channels: local subpartitions in memory, remote ones over the network.
  std::vector<runtime::network::RemoteInputChannel*> remoteChannels;
  auto releaseChannels = [&] {
    for (auto* channel : remoteChannels)
      network_->releaseInputChannel(channel);
  };
  for (size_t i = 0; i < v.inputs.size(); ++i) {
    const runtime::JobEdge& e = jg.edges[static_cast<size_t>(v.inputs[i])];
    int expected = e.partitioner == PartitionerKind::kForward
                       ? 1
                       : jg.vertices[static_cast<size_t>(e.sourceVertex)].parallelism;
    const auto& channels = d.inputs(static_cast<int>(i)).channels();
    if (channels.size() != expected) {
      releaseChannels();
      unregister();
      return absl::InvalidArgumentError(absl::StrCat("deployment of ", description, " names ",
                                                     channels.size(), " channels for edge ", e.id,
                                                     "; it has ", expected));
    }
    std::vector<runtime::ResultSubpartition*> gate;
    std::vector<runtime::network::RemoteInputChannel*> remoteGate;
    // The gate's floating buffers, lent to its busiest remote channels (created on first use).
    std::shared_ptr<runtime::network::FloatingBufferPool> floating;
    for (const v1::InputChannelDescriptor& c : channels) {
      if (c.producer_data_address().empty()) {
        std::lock_guard lock(mutex_);
        auto it = localSubpartitions_.find(c.subpartition_id());
        if (it == localSubpartitions_.end()) {
          releaseChannels();
          unregister();
          return absl::FailedPreconditionError(
              absl::StrCat("input of ", description, ": subpartition '", c.subpartition_id(),
                           "' has no producer on TaskManager ", options_.taskManagerId));
        }
        gate.push_back(it->second);
        remoteGate.push_back(nullptr);
        continue;
      }
      if (floating == nullptr)
        floating = network_->createFloatingBufferPool();
      absl::StatusOr<runtime::network::RemoteInputChannel*> channel =
          connectRemoteChannel(c, floating);
      if (!channel.ok()) {
        releaseChannels();
        unregister();
        // Not Unavailable even when the producer's TaskManager is unreachable: that code says
        // this TaskManager is, and would have the JobManager declare it lost.
        const absl::StatusCode code = channel.status().code() == absl::StatusCode::kUnavailable
                                          ? absl::StatusCode::kFailedPrecondition
                                          : channel.status().code();
        return absl::Status(
            code, absl::StrCat("input of ", description, ": ", channel.status().message()));
      }
      remoteChannels.push_back(*channel);
      gate.push_back((*channel)->subpartition());
      remoteGate.push_back(*channel);
    }
    env.inputs.push_back(std::move(gate));
    env.remoteInputs.push_back(std::move(remoteGate));
  }

  auto task = std::make_unique<Task>();
  task->jobId = d.job_id();
  task->vertexId = d.vertex_id();
  task->subtaskIndex = d.subtask_index();
  task->attemptNumber = d.attempt_number();
  task->remoteChannels = std::move(remoteChannels);
  Task* raw = task.get();
  task->streamTask = std::make_unique<runtime::StreamTask>(
      std::move(env), [this, raw](runtime::TaskState state, const std::string& failure) {
        onTaskEnded(raw, state, failure);
      });
  {
    std::lock_guard lock(mutex_);
    for (auto& p : partitions)
      job.partitions.push_back(std::move(p));
    for (auto& id : ids)
      job.subpartitionIds.push_back(std::move(id));
    job.tasks.push_back(std::move(task));
  }
  getLogger("taskmanager")
      ->info("[{}] {} deployed to slot {} of TaskManager {}", d.job_id(), description,
             d.slot_index(), options_.taskManagerId);
  listener_(TaskStateChange{d.job_id(), d.vertex_id(), d.subtask_index(), d.attempt_number(),
                            runtime::TaskState::kRunning, ""});
  raw->thread = std::jthread([raw] { raw->streamTask->run(); });
  return absl::OkStatus();
}

absl::Status TaskExecutor::triggerCheckpoint(const std::string& jobId,
                                             int64_t checkpointId,
                                             int64_t timestampMillis,
                                             bool isSavepoint) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(jobId);
  if (it == jobs_.end()) {
    return absl::NotFoundError(
        absl::StrCat("TaskManager ", options_.taskManagerId, " runs no task of job ", jobId));
  }
  const runtime::JobGraph& jg = it->second->graph;
  for (const auto& task : it->second->tasks) {
    if (!jg.vertices[static_cast<size_t>(task->vertexId)].isSource)
      continue;
    if (!task->streamTask->triggerCheckpoint(checkpointId, timestampMillis, isSavepoint)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task '", task->streamTask->description(), "' is not running"));
    }
  }
  return absl::OkStatus();
}

void TaskExecutor::notifyCheckpointComplete(const std::string& jobId, int64_t checkpointId) {
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(jobId); it != jobs_.end()) {
    for (const auto& task : it->second->tasks)
      task->streamTask->notifyCheckpointComplete(checkpointId);
  }
}

void TaskExecutor::notifyCheckpointAborted(const std::string& jobId, int64_t checkpointId) {
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(jobId); it != jobs_.end()) {
    for (const auto& task : it->second->tasks)
      task->streamTask->notifyCheckpointAborted(checkpointId);
  }
}

void TaskExecutor::onTaskEnded(Task* task, runtime::TaskState state, const std::string& failure) {
  TaskStateChange change{task->jobId,         task->vertexId, task->subtaskIndex,
                         task->attemptNumber, state,          failure};
  {
    std::lock_guard lock(mutex_);
    task->ended.store(true);
  }
  taskEnded_.notify_all();
  listener_(std::move(change));
}

absl::Status TaskExecutor::cancelTask(const std::string& jobId,
                                      int vertexId,
                                      int subtaskIndex,
                                      int attempt) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(jobId);
  if (it != jobs_.end()) {
    for (auto& t : it->second->tasks) {
      if (t->vertexId == vertexId && t->subtaskIndex == subtaskIndex &&
          t->attemptNumber == attempt) {
        t->streamTask->cancel();
        return absl::OkStatus();
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("task ", taskKey(jobId, vertexId, subtaskIndex), "#",
                                          attempt, " is not on TaskManager ",
                                          options_.taskManagerId));
}

void TaskExecutor::releaseJob(const std::string& jobId) {
  std::lock_guard deployLock(deployMutex_);
  std::unique_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(jobId);
    for (auto& slot : slotJobs_) {
      if (slot == jobId)
        slot.clear();
    }
    if (it == jobs_.end())
      return;
    job = std::move(it->second);
    jobs_.erase(it);
    for (const std::string& id : job->subpartitionIds)
      localSubpartitions_.erase(id);
  }
  release(std::move(job));
  reapReleasedPartitions();
}

void TaskExecutor::releaseAll(const std::string& reason) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, job] : jobs_)
      ids.push_back(id);
  }
  if (!ids.empty()) {
    getLogger("taskmanager")
        ->warn("TaskManager {}: releasing {} job(s): {}", options_.taskManagerId, ids.size(),
               reason);
  }
  for (const std::string& id : ids)
    releaseJob(id);
}

void TaskExecutor::release(std::unique_ptr<Job> job) {
  auto log = getLogger("taskmanager");
  for (auto& t : job->tasks)
    t->streamTask->cancel();
  {
    std::unique_lock lock(mutex_);
    bool stopped = taskEnded_.wait_for(lock, options_.cancelTimeout, [&] {
      return std::all_of(job->tasks.begin(), job->tasks.end(),
                         [](const auto& t) { return t->ended.load(); });
    });
    if (!stopped) {
      log->error(
          "[{}] TaskManager {}: tasks of the job did not stop within {} ms of being "
          "cancelled; their resources stay allocated",
          job->jobId, options_.taskManagerId, options_.cancelTimeout.count());
      stuck_.push_back(std::move(job));
      return;
    }
  }
  for (auto& t : job->tasks) {
    t->thread.join();
    for (auto* channel : t->remoteChannels) {
      // A buffer still in flight must not notify the task's input gate, which goes next.
      channel->subpartition()->setConsumer(nullptr, -1);
      network_->releaseInputChannel(channel);
    }
  }
  job->tasks.clear();
  Retired retired;
  for (const std::string& id : job->subpartitionIds) {
    if (!network_->unregisterSubpartition(id).ok())
      retired.subpartitionIds.push_back(id);
  }
  for (auto& p : job->partitions)
    p->releaseAll();
  if (!retired.subpartitionIds.empty()) {
    // A remote reader still holds some subpartitions: free the partitions once it lets go.
    retired.partitions = std::move(job->partitions);
    std::lock_guard lock(mutex_);
    retired_.push_back(std::move(retired));
  }
  log->info("[{}] TaskManager {} released the job", job->jobId, options_.taskManagerId);
}

void TaskExecutor::reapReleasedPartitions() {
  std::lock_guard lock(mutex_);
  for (auto it = retired_.begin(); it != retired_.end();) {
    auto& ids = it->subpartitionIds;
    ids.erase(std::remove_if(ids.begin(), ids.end(),
                             [&](const std::string& id) {
                               absl::Status s = network_->unregisterSubpartition(id);
                               return s.ok() || absl::IsNotFound(s);
                             }),
              ids.end());
    it = ids.empty() ? retired_.erase(it) : std::next(it);
  }
}

std::vector<std::string> TaskExecutor::slotJobs() const {
  std::lock_guard lock(mutex_);
  return slotJobs_;
}

std::map<std::string, double> TaskExecutor::sampleBackpressure() {
  std::map<std::string, double> result;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  for (auto& [id, job] : jobs_) {
    for (auto& t : job->tasks) {
      if (t->ended.load())
        continue;
      int64_t nanos = t->streamTask->backPressuredNanos();
      auto elapsed =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - t->sampledAt).count();
      double ratio =
          elapsed > 0 ? static_cast<double>(nanos - t->sampledNanos) / static_cast<double>(elapsed)
                      : 0.0;
      result[taskKey(t->jobId, t->vertexId, t->subtaskIndex)] = std::clamp(ratio, 0.0, 1.0);
      t->sampledNanos = nanos;
      t->sampledAt = now;
    }
  }
  return result;
}

int TaskExecutor::runningTasks() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& [id, job] : jobs_) {
    for (const auto& t : job->tasks)
      n += t->ended.load() ? 0 : 1;
  }
  return n;
}

}  // namespace brook::taskmanager
