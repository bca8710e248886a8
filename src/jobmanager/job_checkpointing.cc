#include "jobmanager/job_checkpointing.h"

#include <algorithm>
#include <future>

#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "checkpoint/checkpoint_metadata_proto.h"
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

// Short: a lost TaskManager must not hold up the JobMaster's thread (triggers) for long.
constexpr auto kCallTimeout = std::chrono::seconds(2);

checkpoint::DeclineReason declineReason(v1::AcknowledgeCheckpointRequest::DeclineKind kind) {
  switch (kind) {
    case v1::AcknowledgeCheckpointRequest::DECLINE_KIND_TASK_NOT_RUNNING:
      return checkpoint::DeclineReason::kTaskNotRunning;
    case v1::AcknowledgeCheckpointRequest::DECLINE_KIND_SUBSUMED:
      return checkpoint::DeclineReason::kSubsumed;
    default:
      return checkpoint::DeclineReason::kFailure;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobCheckpointing>> JobCheckpointing::create(
    std::string jobId, const v1::JobGraph& graph, const Configuration& jobConfig, Hooks hooks) {
  std::unique_ptr<JobCheckpointing> self(new JobCheckpointing(std::move(jobId), std::move(hooks)));
  BROOK_ASSIGN_OR_RETURN(self->options_, checkpoint::checkpointingOptionsFrom(jobConfig));
  if (graph.mode() == v1::RUNTIME_MODE_BATCH)
    self->options_.intervalMillis = 0;  // as in Flink, BATCH jobs do not checkpoint
  self->savepointsDirectory_ = jobConfig.getString(config_keys::kSavepointsDirectory, "");
  BROOK_ASSIGN_OR_RETURN(checkpoint::SavepointRestoreSettings restore,
                         checkpoint::savepointRestoreSettingsFrom(jobConfig));

  std::vector<checkpoint::OperatorDescription> operators;
  std::vector<checkpoint::SubtaskId> subtasks;
  for (const v1::JobVertex& v : graph.vertices()) {
    for (const v1::Operator& op : v.operators())
      operators.push_back({op.operator_id(), op.name(), v.id(), v.parallelism(), v.max_parallelism()});
    for (int i = 0; i < v.parallelism(); ++i)
      subtasks.push_back({v.id(), i});
  }

  auto log = getLogger("jobmanager");
  if (restore.restores()) {
    std::vector<std::string> warnings;
    BROOK_ASSIGN_OR_RETURN(checkpoint::RestoreSource source,
                           checkpoint::loadRestoreSourceForJob(restore, operators, &warnings));
    for (const std::string& w : warnings)
      log->warn("[{}] restoring from '{}': {}", self->jobId_, restore.path, w);
    log->info("[{}] the job starts from the {} {} in '{}'", self->jobId_,
              source.metadata.isSavepoint ? "savepoint of checkpoint" : "checkpoint",
              source.metadata.checkpointId, source.directory.string());
    self->restoreDirectory_ = source.directory.string();
    self->initial_ = std::move(source);
  }

  if (self->options_.enabled()) {
    BROOK_ASSIGN_OR_RETURN(checkpoint::FileCheckpointStorage storage,
                           checkpoint::FileCheckpointStorage::open(self->options_.directory,
                                                                   self->jobId_));
    self->storage_ = storage;
    JobCheckpointing* raw = self.get();
    checkpoint::CheckpointCoordinator::Callbacks callbacks;
    callbacks.triggerSources = [raw](int64_t id, int64_t timestamp, bool isSavepoint,
                                     const std::filesystem::path&) -> absl::Status {
      return raw->forEachTaskManager(
          raw->hooks_.sourceTaskManagers(), [&](const std::string& address) {
            auto stub = v1::TaskExecutor::NewStub(raw->hooks_.channelTo(address));
            v1::TriggerCheckpointRequest request;
            request.set_protocol_version(runtime::kProtocolVersion);
            request.set_job_id(raw->jobId_);
            request.set_checkpoint_id(id);
            request.set_timestamp_millis(timestamp);
            // The sources choose the barriers from the job's options; savepoints are aligned.
            request.set_is_savepoint(isSavepoint);
            request.set_unaligned(raw->options_.unaligned && !isSavepoint);
            v1::TriggerCheckpointResponse response;
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
            return fromGrpcStatus(stub->TriggerCheckpoint(&context, request, &response),
                                  absl::StrCat("triggering checkpoint ", id, " at ", address));
          });
    };
    callbacks.notifyComplete = [raw](int64_t id) { raw->notifyLater(id, true); };
    callbacks.notifyAborted = [raw](int64_t id, const std::string& reason) {
      getLogger("jobmanager")->info("[{}] {}", raw->jobId_, reason);
      raw->notifyLater(id, false);
    };
    callbacks.failJob = [raw](const std::string& reason) { raw->hooks_.failAttempt(reason); };
    self->notifier_ = std::jthread([raw](std::stop_token stop) {
      for (;;) {
        std::pair<int64_t, bool> next;
        {
          std::unique_lock lock(raw->mutex_);
          raw->notificationAdded_.wait(lock, stop, [raw] { return !raw->notifications_.empty(); });
          if (raw->notifications_.empty())
            return;  // stopping
          next = raw->notifications_.front();
          raw->notifications_.pop_front();
        }
        raw->notifyTaskManagers(next.first, next.second);
      }
    });
    self->coordinator_ = std::make_unique<checkpoint::CheckpointCoordinator>(
        self->jobId_, self->options_, std::move(storage), std::move(operators),
        std::move(subtasks), std::move(callbacks),
        self->initial_ ? self->initial_->metadata.checkpointId : 0);
  }
  return self;
}

JobCheckpointing::~JobCheckpointing() {
  if (coordinator_) {
    coordinator_->stop();
    coordinator_->abortPending("the job has ended");
  }
  notifier_.request_stop();
  if (notifier_.joinable())
    notifier_.join();
}

void JobCheckpointing::notifyLater(int64_t id, bool complete) {
  {
    std::lock_guard lock(mutex_);
    notifications_.emplace_back(id, complete);
  }
  notificationAdded_.notify_all();
}

void JobCheckpointing::notifyTaskManagers(int64_t id, bool complete) {
  absl::Status status = forEachTaskManager(hooks_.taskManagers(), [&](const std::string& address) {
    auto stub = v1::TaskExecutor::NewStub(hooks_.channelTo(address));
    v1::NotifyCheckpointRequest request;
    request.set_protocol_version(runtime::kProtocolVersion);
    request.set_job_id(jobId_);
    request.set_checkpoint_id(id);
    v1::NotifyCheckpointResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    grpc::Status s = complete ? stub->NotifyCheckpointComplete(&context, request, &response)
                              : stub->NotifyCheckpointAborted(&context, request, &response);
    return fromGrpcStatus(s, absl::StrCat("notifying ", address, " of checkpoint ", id));
  });
  // A TaskManager that misses it catches up: a sink commits at the next completion or
  // recovers its pending transactions on restore.
  if (!status.ok())
    getLogger("jobmanager")->warn("[{}] {}", jobId_, status.message());
}

std::string JobCheckpointing::checkpointDirectory() const {
  return storage_ ? storage_->jobDirectory().string() : std::string();
}

std::string JobCheckpointing::restoreDirectory() const {
  std::lock_guard lock(mutex_);
  return restoreDirectory_;
}

bool JobCheckpointing::restoreContinuesCheckpoints() const {
  std::lock_guard lock(mutex_);
  return restoreContinuesCheckpoints_;
}

void JobCheckpointing::attemptStarted() {
  if (coordinator_)
    coordinator_->start(nowMillis());
}

void JobCheckpointing::taskFinished() {
  if (coordinator_)
    coordinator_->stop();
}

void JobCheckpointing::attemptEnded(const std::string& reason) {
  if (coordinator_) {
    coordinator_->stop();
    coordinator_->abortPending(reason);
  }
  std::deque<SavepointRequest> requests;
  {
    std::lock_guard lock(mutex_);
    requests.swap(savepointRequests_);
  }
  for (SavepointRequest& r : requests)
    r.done(absl::FailedPreconditionError(absl::StrCat("no savepoint: ", reason)));
}

absl::Status JobCheckpointing::prepareRestart() {
  if (!storage_)
    return absl::OkStatus();
  std::vector<std::string> warnings;
  absl::StatusOr<checkpoint::FileCheckpointStorage::Restorable> latest =
      storage_->latestRestorable(&warnings);
  auto log = getLogger("jobmanager");
  for (const std::string& w : warnings)
    log->warn("[{}] {}", jobId_, w);
  if (latest.ok()) {
    log->info("[{}] the job restarts from checkpoint {} in {}", jobId_,
              latest->metadata.checkpointId, latest->directory.string());
    coordinator_->continueFrom(latest->metadata);  // made with the storage
    std::lock_guard lock(mutex_);
    restoreDirectory_ = latest->directory.string();
    restoreContinuesCheckpoints_ = true;
    return absl::OkStatus();
  }
  if (absl::IsNotFound(latest.status()))
    return absl::OkStatus();  // no checkpoint yet: what the job started from
  return latest.status();
}

void JobCheckpointing::tick() {
  if (!coordinator_)
    return;
  std::deque<SavepointRequest> requests;
  {
    std::lock_guard lock(mutex_);
    requests.swap(savepointRequests_);
  }
  for (SavepointRequest& r : requests) {
    // The coordinator calls `done` once the savepoint is triggered; not when it refuses it.
    absl::StatusOr<int64_t> id = coordinator_->triggerSavepoint(nowMillis(), r.target, r.done);
    if (!id.ok())
      r.done(id.status());
  }
  coordinator_->onTick(nowMillis());
}

std::chrono::milliseconds JobCheckpointing::tickInterval() const {
  return std::chrono::milliseconds(std::clamp<int64_t>(options_.intervalMillis / 4, 1, 50));
}

absl::Status JobCheckpointing::acknowledge(const v1::AcknowledgeCheckpointRequest& request) {
  if (!coordinator_) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", jobId_, " takes no checkpoints"));
  }
  const checkpoint::SubtaskId task{request.vertex_id(), request.subtask_index()};
  if (request.declined()) {
    coordinator_->decline(request.checkpoint_id(), task, declineReason(request.decline_kind()),
                          request.decline_reason(), nowMillis());
    return absl::OkStatus();
  }
  checkpoint::TaskAcknowledgement ack{task, {}};
  for (const auto& op : request.operators()) {
    BROOK_ASSIGN_OR_RETURN(checkpoint::SubtaskStateMetadata state,
                           checkpoint::fromProto(op.state()));
    ack.operators.emplace_back(op.operator_uid(), std::move(state));
  }
  return coordinator_->acknowledge(request.checkpoint_id(), ack, nowMillis());
}

absl::StatusOr<std::string> JobCheckpointing::triggerSavepoint(const std::string& targetDirectory) {
  if (!coordinator_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", jobId_, " takes no checkpoints, so it cannot take a savepoint: run it with ",
        config_keys::kCheckpointingInterval, " and ", config_keys::kCheckpointsDirectory));
  }
  const std::string target = targetDirectory.empty() ? savepointsDirectory_ : targetDirectory;
  if (target.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no savepoint folder: give one, or set ", config_keys::kSavepointsDirectory));
  }
  auto promise = std::make_shared<std::promise<absl::StatusOr<std::filesystem::path>>>();
  std::future<absl::StatusOr<std::filesystem::path>> done = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    savepointRequests_.push_back({target, [promise](absl::StatusOr<std::filesystem::path> p) {
                                    promise->set_value(std::move(p));
                                  }});
  }
  // The coordinator aborts the savepoint after the checkpoint timeout; a little more here.
  if (done.wait_for(std::chrono::milliseconds(options_.timeoutMillis) + std::chrono::seconds(5)) !=
      std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("the savepoint of job ", jobId_, " did not complete in time"));
  }
  BROOK_ASSIGN_OR_RETURN(std::filesystem::path path, done.get());
  return path.string();
}

int64_t JobCheckpointing::completedCheckpoints() const {
  return coordinator_ ? coordinator_->counts().completed : 0;
}

absl::Status JobCheckpointing::forEachTaskManager(
    const std::vector<std::string>& addresses,
    const std::function<absl::Status(const std::string& address)>& call) const {
  std::vector<std::string> unique = addresses;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  absl::Status first = absl::OkStatus();
  for (const std::string& address : unique) {
    absl::Status s = call(address);
    if (!s.ok() && first.ok())
      first = s;
  }
  return first;
}

}  // namespace brook::jobmanager
