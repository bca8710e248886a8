#include "jobmanager/job_master.h"

#include <algorithm>
#include <future>
#include <set>

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/configuration.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "runtime/job_graph_proto.h"

namespace brook::jobmanager {

namespace {

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isTerminal(v1::JobStatus s) {
  return s == v1::JOB_STATUS_FINISHED || s == v1::JOB_STATUS_FAILED || s == v1::JOB_STATUS_CANCELED;
}

std::chrono::system_clock::time_point deadlineIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// Vertices in an order where every producer comes before its consumers (Kahn).
std::vector<int> topologicalOrder(const v1::JobGraph& graph) {
  std::vector<int> inDegree(static_cast<size_t>(graph.vertices_size()), 0);
  for (const auto& e : graph.edges())
    ++inDegree[static_cast<size_t>(e.target_vertex())];
  std::vector<int> order;
  for (int v = 0; v < graph.vertices_size(); ++v) {
    if (inDegree[static_cast<size_t>(v)] == 0)
      order.push_back(v);
  }
  for (size_t i = 0; i < order.size(); ++i) {
    for (const auto& e : graph.edges()) {
      if (e.source_vertex() == order[i] && --inDegree[static_cast<size_t>(e.target_vertex())] == 0)
        order.push_back(e.target_vertex());
    }
  }
  return order;
}

}  // namespace

absl::StatusOr<runtime::RestartStrategy> restartStrategyForJob(const Configuration& config) {
  BROOK_ASSIGN_OR_RETURN(int64_t checkpointInterval,
                         config.getDurationMillis(config_keys::kCheckpointingInterval, 0));
  return runtime::restartStrategyFrom(config, checkpointInterval > 0);
}

JobMaster::JobMaster(std::string jobId,
                     v1::JobGraph graph,
                     Options options,
                     ResourceManager* resources)
    : jobId_(std::move(jobId)),
      graph_(std::move(graph)),
      options_(options),
      restartStrategy_(options_.restartStrategy),
      resources_(resources),
      topologicalOrder_(topologicalOrder(graph_)) {
  for (const auto& v : graph_.vertices())
    parallelism_ = std::max(parallelism_, v.parallelism());
  startMillis_ = nowMillis();
}

JobMaster::~JobMaster() {
  cancel();
  if (thread_.joinable())
    thread_.join();
}

void JobMaster::start() {
  Configuration config;
  for (const auto& [key, value] : graph_.configuration())
    config.set(key, value);
  JobCheckpointing::Hooks hooks;
  hooks.sourceTaskManagers = [this] {
    std::vector<std::string> addresses;
    std::lock_guard lock(mutex_);
    for (const v1::JobVertex& v : graph_.vertices()) {
      if (!v.is_source())
        continue;
      for (int i = 0; i < v.parallelism() && static_cast<size_t>(i) < slots_.size(); ++i)
        addresses.push_back(slots_[static_cast<size_t>(i)].rpcAddress);
    }
    return addresses;
  };
  hooks.taskManagers = [this] {
    std::vector<std::string> addresses;
    std::lock_guard lock(mutex_);
    for (const auto& slot : slots_)
      addresses.push_back(slot.rpcAddress);
    return addresses;
  };
  hooks.channelTo = [this](const std::string& address) { return channelTo(address); };
  hooks.failAttempt = [this](const std::string& reason) { failAttempt(reason); };
  absl::StatusOr<std::unique_ptr<JobCheckpointing>> checkpointing =
      JobCheckpointing::create(jobId_, graph_, config, std::move(hooks));
  if (checkpointing.ok()) {
    checkpointing_ = *std::move(checkpointing);
  } else {
    checkpointingError_ = checkpointing.status();
  }
  thread_ = std::jthread([this] { run(); });
}

void JobMaster::cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelRequested_ = true;
  }
  changed_.notify_all();
}

v1::JobStatus JobMaster::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool JobMaster::terminal() const {
  return isTerminal(status());
}

void JobMaster::setStatus(v1::JobStatus status) {
  {
    std::lock_guard lock(mutex_);
    if (status_ == status)
      return;
    status_ = status;
    if (isTerminal(status))
      endMillis_ = nowMillis();
  }
  changed_.notify_all();
  getLogger("jobmanager")
      ->info("[{}] job '{}' switched to {}", jobId_, graph_.job_name(),
             v1::JobStatus_Name(status).substr(sizeof("JOB_STATUS_") - 1));
}

void JobMaster::run() {
  auto log = getLogger("jobmanager");
  if (checkpointing_ == nullptr) {
    {
      std::lock_guard lock(mutex_);
      failure_ = std::string(checkpointingError_.message());
    }
    log->error("[{}] job '{}' cannot start: {}", jobId_, graph_.job_name(), failure_);
    setStatus(v1::JOB_STATUS_FAILED);
    return;
  }
  for (;;) {
    AttemptOutcome outcome = runAttempt();
    checkpointing_->attemptEnded(outcome == AttemptOutcome::kFailed ? "the job fails over"
                                                                    : "the job has ended");
    if (outcome == AttemptOutcome::kFinished) {
      releaseAttempt();
      setStatus(v1::JOB_STATUS_FINISHED);
      return;
    }
    if (outcome == AttemptOutcome::kCancelled) {
      setStatus(v1::JOB_STATUS_CANCELLING);
      releaseAttempt();
      setStatus(v1::JOB_STATUS_CANCELED);
      return;
    }
    // An attempt that never got its slots (slots_ empty) failed on the slot request timeout:
    // restarting would only wait for the same slots again.
    bool restart = false;
    bool consulted = false;
    {
      std::lock_guard lock(mutex_);
      if (!slots_.empty() && !cancelRequested_) {
        restartStrategy_.notifyFailure(nowMillis());
        restart = restartStrategy_.canRestart();
        consulted = true;
      }
    }
    if (!restart) {
      if (consulted && restartStrategy_.kind() != runtime::RestartStrategyKind::kNone) {
        log->info("[{}] not restarting job '{}': {}", jobId_, graph_.job_name(),
                  restartStrategy_.description());
      }
      setStatus(v1::JOB_STATUS_FAILING);
      releaseAttempt();
      setStatus(v1::JOB_STATUS_FAILED);
      return;
    }
    setStatus(v1::JOB_STATUS_RESTARTING);
    releaseAttempt();
    std::unique_lock lock(mutex_);
    log->info("[{}] restarting job '{}' (restart {}) in {} ms, {}, after: {}", jobId_,
              graph_.job_name(), attempt_ + 1, restartStrategy_.backoffMillis(),
              restartStrategy_.description(), failure_);
    if (changed_.wait_for(lock, std::chrono::milliseconds(restartStrategy_.backoffMillis()),
                          [this] { return cancelRequested_; })) {
      lock.unlock();
      setStatus(v1::JOB_STATUS_CANCELED);
      return;
    }
    lock.unlock();
    if (absl::Status restore = checkpointing_->prepareRestart(); !restore.ok()) {
      {
        std::lock_guard failLock(mutex_);
        failure_ = absl::StrCat("cannot restart after '", failure_, "': ", restore.message());
      }
      log->error("[{}] job '{}': {}", jobId_, graph_.job_name(), failure_);
      setStatus(v1::JOB_STATUS_FAILED);
      return;
    }
    lock.lock();
    ++attempt_;
  }
}

JobMaster::AttemptOutcome JobMaster::runAttempt() {
  {
    std::lock_guard lock(mutex_);
    attemptFailed_ = false;
    slots_.clear();
    tasks_.assign(static_cast<size_t>(graph_.vertices_size()), {});
    for (const auto& v : graph_.vertices())
      tasks_[static_cast<size_t>(v.id())].resize(static_cast<size_t>(v.parallelism()));
  }
  absl::Status allocated = allocateSlots();
  if (!allocated.ok()) {
    std::lock_guard lock(mutex_);
    if (cancelRequested_)
      return AttemptOutcome::kCancelled;
    failure_ = std::string(allocated.message());
    return AttemptOutcome::kFailed;
  }
  setStatus(v1::JOB_STATUS_RUNNING);
  absl::Status deployed = deployAll();
  if (!deployed.ok()) {
    failAttempt(std::string(deployed.message()));
  } else {
    checkpointing_->attemptStarted();
  }

  std::unique_lock lock(mutex_);
  auto ended = [this] {
    if (cancelRequested_ || attemptFailed_)
      return true;
    for (const auto& vertex : tasks_) {
      for (const auto& t : vertex) {
        if (t.state != v1::EXECUTION_STATE_FINISHED)
          return false;
      }
    }
    return true;
  };
  if (checkpointing_->enabled()) {
    // The checkpoint coordinator's clock ticks on this thread while the attempt runs.
    while (!changed_.wait_for(lock, checkpointing_->tickInterval(), ended)) {
      lock.unlock();
      checkpointing_->tick();
      lock.lock();
    }
  } else {
    changed_.wait(lock, ended);
  }
  if (attemptFailed_)
    return AttemptOutcome::kFailed;
  if (cancelRequested_)
    return AttemptOutcome::kCancelled;
  return AttemptOutcome::kFinished;
}

absl::Status JobMaster::allocateSlots() {
  auto deadline = std::chrono::steady_clock::now() + options_.slotRequestTimeout;
  absl::Status last;
  bool logged = false;
  for (;;) {
    auto slots = resources_->allocateSlots(jobId_, parallelism_);
    if (slots.ok()) {
      std::lock_guard lock(mutex_);
      slots_ = std::move(*slots);
      return absl::OkStatus();
    }
    last = slots.status();
    if (!logged) {
      getLogger("jobmanager")
          ->info("[{}] job '{}' waits up to {} ms for slots: {}", jobId_, graph_.job_name(),
                 options_.slotRequestTimeout.count(), last.message());
      logged = true;
    }
    std::unique_lock lock(mutex_);
    if (changed_.wait_until(
            lock,
            std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)),
            [this] { return cancelRequested_; })) {
      return absl::CancelledError("the job was cancelled while it waited for slots");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ResourceManager::SlotSummary summary = resources_->slotSummary();
      return absl::ResourceExhaustedError(absl::StrCat(
          "could not acquire the required slots within ", options_.slotRequestTimeout.count(),
          " ms (slot.request.timeout): job '", graph_.job_name(), "' needs ", parallelism_,
          " slots (its highest parallelism) but the cluster has ", summary.totalSlots, " slots in ",
          summary.taskManagers, " TaskManagers, ", summary.freeSlots, " of them free"));
    }
  }
}

std::string JobMaster::subpartitionId(int edge, int producer, int subpartition) const {
  return absl::StrCat(jobId_, ".", attempt_, ".", edge, ".", producer, ".", subpartition);
}

std::shared_ptr<grpc::Channel> JobMaster::channelTo(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto& channel = channels_[address];
  if (!channel)
    channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return channel;
}

absl::Status JobMaster::deployAll() {
  std::map<int, const v1::JobEdge*> edges;
  for (const auto& e : graph_.edges())
    edges[e.id()] = &e;
  std::vector<ResourceManager::SlotAssignment> slots;
  int attempt;
  {
    std::lock_guard lock(mutex_);
    slots = slots_;
    attempt = attempt_;
  }
  for (int vertexId : topologicalOrder_) {
    const v1::JobVertex& v = graph_.vertices(vertexId);
    for (int i = 0; i < v.parallelism(); ++i) {
      {
        std::lock_guard lock(mutex_);
        if (cancelRequested_ || attemptFailed_)
          return absl::OkStatus();
      }
      const ResourceManager::SlotAssignment& slot = slots[static_cast<size_t>(i)];
      v1::TaskDeployment d;
      d.set_protocol_version(runtime::kProtocolVersion);
      d.set_job_id(jobId_);
      *d.mutable_job_graph() = graph_;
      d.set_vertex_id(vertexId);
      d.set_subtask_index(i);
      d.set_attempt_number(attempt);
      d.set_slot_index(slot.slotIndex);
      d.set_checkpoint_directory(checkpointing_->checkpointDirectory());
      d.set_restore_directory(checkpointing_->restoreDirectory());
      d.set_restore_continues_checkpoints(checkpointing_->restoreContinuesCheckpoints());
      for (int e : v.inputs()) {
        const v1::JobEdge& edge = *edges.at(e);
        const v1::JobVertex& producer = graph_.vertices(edge.source_vertex());
        auto* gate = d.add_inputs();
        auto addChannel = [&](int j, int subpartition) {
          auto* c = gate->add_channels();
          const auto& producerSlot = slots[static_cast<size_t>(j)];
          if (producerSlot.taskManagerId != slot.taskManagerId)
            c->set_producer_data_address(producerSlot.dataAddress);
          c->set_subpartition_id(subpartitionId(e, j, subpartition));
        };
        if (edge.partitioner() == v1::PARTITIONER_FORWARD) {
          addChannel(i, 0);
        } else {
          for (int j = 0; j < producer.parallelism(); ++j)
            addChannel(j, i);
        }
      }
      for (int e : v.outputs()) {
        const v1::JobEdge& edge = *edges.at(e);
        int subpartitions = edge.partitioner() == v1::PARTITIONER_FORWARD
                                ? 1
                                : graph_.vertices(edge.target_vertex()).parallelism();
        auto* partition = d.add_outputs();
        for (int s = 0; s < subpartitions; ++s)
          partition->add_subpartition_ids(subpartitionId(e, i, s));
      }
      {
        // Before the call: the TaskManager reports RUNNING while it answers.
        std::lock_guard lock(mutex_);
        tasks_[static_cast<size_t>(vertexId)][static_cast<size_t>(i)].state =
            v1::EXECUTION_STATE_DEPLOYING;
      }
      auto stub = v1::TaskExecutor::NewStub(channelTo(slot.rpcAddress));
      grpc::ClientContext context;
      context.set_deadline(deadlineIn(options_.deployTimeout));
      v1::TaskDeploymentResponse response;
      grpc::Status s = stub->DeployTask(&context, d, &response);
      if (!s.ok()) {
        {
          std::lock_guard lock(mutex_);
          tasks_[static_cast<size_t>(vertexId)][static_cast<size_t>(i)].state =
              v1::EXECUTION_STATE_FAILED;
        }
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
          resources_->declareLost(slot.taskManagerId,
                                  absl::StrCat("unreachable: ", s.error_message()));
        }
        return absl::UnavailableError(
            absl::StrCat("deploying ", v.name(), " (", i + 1, "/", v.parallelism(),
                         ") to TaskManager ", slot.taskManagerId, " failed: ", s.error_message()));
      }
    }
  }
  return absl::OkStatus();
}

void JobMaster::failAttempt(const std::string& failure) {
  {
    std::lock_guard lock(mutex_);
    if (attemptFailed_)
      return;
    attemptFailed_ = true;
    failure_ = failure;
  }
  getLogger("jobmanager")
      ->warn("[{}] job '{}' attempt failed: {}", jobId_, graph_.job_name(), failure);
  changed_.notify_all();
}

absl::Status JobMaster::updateTaskState(const v1::TaskStateUpdate& update) {
  std::string failure;
  {
    std::lock_guard lock(mutex_);
    if (update.attempt_number() != attempt_ || tasks_.empty()) {
      return absl::NotFoundError(absl::StrCat("job ", jobId_, " runs attempt ", attempt_, ", not ",
                                              update.attempt_number()));
    }
    if (update.vertex_id() < 0 || static_cast<size_t>(update.vertex_id()) >= tasks_.size() ||
        update.subtask_index() < 0 ||
        static_cast<size_t>(update.subtask_index()) >=
            tasks_[static_cast<size_t>(update.vertex_id())].size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "job ", jobId_, " has no task ", update.vertex_id(), "/", update.subtask_index()));
    }
    TaskSlot& t = tasks_[static_cast<size_t>(update.vertex_id())]
                        [static_cast<size_t>(update.subtask_index())];
    bool wasTerminal = t.state == v1::EXECUTION_STATE_FINISHED ||
                       t.state == v1::EXECUTION_STATE_CANCELED ||
                       t.state == v1::EXECUTION_STATE_FAILED;
    if (wasTerminal)
      return absl::OkStatus();
    t.state = update.state();
    t.failure = update.failure();
    if (update.state() == v1::EXECUTION_STATE_FAILED) {
      failure = update.failure().empty() ? "a task failed" : update.failure();
    } else if (update.state() == v1::EXECUTION_STATE_CANCELED && !cancelRequested_ &&
               !attemptFailed_) {
      failure = absl::StrCat("task ", graph_.vertices(update.vertex_id()).name(), " (",
                             update.subtask_index() + 1, ") was cancelled by TaskManager ",
                             update.task_manager_id());
    }
  }
  if (update.state() == v1::EXECUTION_STATE_FINISHED && checkpointing_ != nullptr)
    checkpointing_->taskFinished();
  if (!failure.empty()) {
    failAttempt(failure);
  } else {
    changed_.notify_all();
  }
  return absl::OkStatus();
}

absl::Status JobMaster::acknowledgeCheckpoint(const v1::AcknowledgeCheckpointRequest& request) {
  if (checkpointing_ == nullptr)
    return absl::FailedPreconditionError(absl::StrCat("job ", jobId_, " did not start"));
  return checkpointing_->acknowledge(request);
}

absl::StatusOr<std::string> JobMaster::triggerSavepoint(const std::string& targetDirectory,
                                                        bool stopJob) {
  if (checkpointing_ == nullptr)
    return absl::FailedPreconditionError(absl::StrCat("job ", jobId_, " did not start"));
  if (v1::JobStatus s = status(); s != v1::JOB_STATUS_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", jobId_, " is ", v1::JobStatus_Name(s).substr(sizeof("JOB_STATUS_") - 1),
        "; only a RUNNING job can take a savepoint"));
  }
  BROOK_ASSIGN_OR_RETURN(std::string path, checkpointing_->triggerSavepoint(targetDirectory));
  getLogger("jobmanager")->info("[{}] savepoint of job '{}' completed: {}", jobId_,
                                graph_.job_name(), path);
  if (stopJob)
    cancel();
  return path;
}

void JobMaster::onTaskManagerLost(const std::string& taskManagerId, const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    bool affected = std::any_of(slots_.begin(), slots_.end(),
                                [&](const auto& s) { return s.taskManagerId == taskManagerId; });
    if (!affected || isTerminal(status_))
      return;
  }
  failAttempt(absl::StrCat("TaskManager ", taskManagerId, " was lost: ", reason));
}

void JobMaster::releaseAttempt() {
  std::vector<ResourceManager::SlotAssignment> slots;
  {
    std::lock_guard lock(mutex_);
    slots = slots_;
  }
  std::set<std::string> registered;
  for (const auto& tm : resources_->taskManagers())
    registered.insert(tm.id);
  std::map<std::string, std::string> addresses;
  for (const auto& s : slots) {
    if (registered.count(s.taskManagerId) != 0)
      addresses[s.taskManagerId] = s.rpcAddress;
  }
  // Release on every TaskManager at once; each call cancels the tasks there and waits for them.
  std::vector<std::future<void>> calls;
  for (const auto& [id, address] : addresses) {
    calls.push_back(std::async(std::launch::async, [this, id = id, address = address] {
      auto stub = v1::TaskExecutor::NewStub(channelTo(address));
      v1::ReleaseJobRequest request;
      request.set_protocol_version(runtime::kProtocolVersion);
      request.set_job_id(jobId_);
      v1::ReleaseJobResponse response;
      grpc::ClientContext context;
      context.set_deadline(deadlineIn(options_.releaseTimeout));
      grpc::Status s = stub->ReleaseJob(&context, request, &response);
      if (!s.ok()) {
        getLogger("jobmanager")
            ->warn("[{}] releasing the job on TaskManager {} failed: {}", jobId_, id,
                   s.error_message());
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE)
          resources_->declareLost(id, absl::StrCat("unreachable: ", s.error_message()));
      }
    }));
  }
  for (auto& c : calls)
    c.wait();
  resources_->releaseSlots(jobId_);
}

v1::JobStatusResponse JobMaster::describe() const {
  v1::JobStatusResponse r;
  std::map<std::string, double> backpressure;
  for (const auto& tm : resources_->taskManagers()) {
    for (const auto& [task, ratio] : tm.backpressure)
      backpressure[task] = ratio;
  }
  std::lock_guard lock(mutex_);
  r.set_job_id(jobId_);
  r.set_job_name(graph_.job_name());
  r.set_status(status_);
  r.set_failure(failure_);
  r.set_start_time_millis(startMillis_);
  r.set_end_time_millis(endMillis_);
  r.set_parallelism(parallelism_);
  r.set_restarts(attempt_);
  for (size_t v = 0; v < tasks_.size(); ++v) {
    for (size_t i = 0; i < tasks_[v].size(); ++i) {
      const TaskSlot& t = tasks_[v][i];
      auto* ts = r.add_tasks();
      ts->set_vertex_name(graph_.vertices(static_cast<int>(v)).name());
      ts->set_vertex_id(static_cast<int>(v));
      ts->set_subtask_index(static_cast<int>(i));
      ts->set_attempt_number(attempt_);
      ts->set_state(t.state);
      if (i < slots_.size())
        ts->set_task_manager_id(slots_[i].taskManagerId);
      auto it = backpressure.find(absl::StrCat(jobId_, "/", v, "/", i));
      if (it != backpressure.end())
        ts->set_backpressure(it->second);
    }
  }
  return r;
}

}  // namespace brook::jobmanager
