#include "taskmanager/task_state_reporter.h"

#include <algorithm>

#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/logging.h"
#include "runtime/job_graph_proto.h"

namespace brook::taskmanager {

namespace {

v1::ExecutionState toProto(runtime::TaskState state) {
  switch (state) {
    case runtime::TaskState::kCreated:
      return v1::EXECUTION_STATE_DEPLOYING;
    case runtime::TaskState::kRunning:
      return v1::EXECUTION_STATE_RUNNING;
    case runtime::TaskState::kFinished:
      return v1::EXECUTION_STATE_FINISHED;
    case runtime::TaskState::kCanceled:
      return v1::EXECUTION_STATE_CANCELED;
    case runtime::TaskState::kFailed:
      return v1::EXECUTION_STATE_FAILED;
  }
  return v1::EXECUTION_STATE_UNSPECIFIED;
}

}  // namespace

TaskStateReporter::TaskStateReporter(std::string taskManagerId,
                                     std::string jobManagerAddress,
                                     std::chrono::milliseconds retryFor)
    : taskManagerId_(std::move(taskManagerId)),
      jobManagerAddress_(std::move(jobManagerAddress)),
      retryFor_(retryFor),
      channel_(grpc::CreateChannel(jobManagerAddress_, grpc::InsecureChannelCredentials())) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

TaskStateReporter::~TaskStateReporter() {
  thread_.request_stop();
  wake_.notify_all();
}

void TaskStateReporter::report(TaskStateChange change) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(change));
  }
  wake_.notify_all();
}

void TaskStateReporter::reportCheckpoint(v1::AcknowledgeCheckpointRequest acknowledgement) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(acknowledgement));
  }
  wake_.notify_all();
}

void TaskStateReporter::logUndelivered(const Message& message) const {
  auto log = getLogger("taskmanager");
  if (const auto* change = std::get_if<TaskStateChange>(&message)) {
    log->error(
        "[{}] TaskManager {}: could not report that task {}/{}#{} switched to {} to the "
        "JobManager at {} within {} ms",
        change->jobId, taskManagerId_, change->vertexId, change->subtaskIndex,
        change->attemptNumber, runtime::taskStateName(change->state), jobManagerAddress_,
        retryFor_.count());
    return;
  }
  const auto& ack = std::get<v1::AcknowledgeCheckpointRequest>(message);
  log->error(
      "[{}] TaskManager {}: could not {} checkpoint {} of task {}/{} to the JobManager at {} "
      "within {} ms",
      ack.job_id(), taskManagerId_, ack.declined() ? "decline" : "acknowledge",
      ack.checkpoint_id(), ack.vertex_id(), ack.subtask_index(), jobManagerAddress_,
      retryFor_.count());
}

void TaskStateReporter::run(std::stop_token stop) {
  for (;;) {
    Message message;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty())
        return;  // stopping with nothing left to deliver
      message = std::move(queue_.front());
      queue_.pop_front();
    }
    auto giveUpAt = std::chrono::steady_clock::now() + retryFor_;
    auto backoff = std::chrono::milliseconds(100);
    while (!std::visit([this](const auto& m) { return send(m); }, message)) {
      if (std::chrono::steady_clock::now() + backoff > giveUpAt || stop.stop_requested()) {
        logUndelivered(message);
        break;
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, backoff, [] { return false; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }
}

bool TaskStateReporter::send(const TaskStateChange& change) {
  auto stub = v1::JobMaster::NewStub(channel_);
  v1::TaskStateUpdate request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_job_id(change.jobId);
  request.set_vertex_id(change.vertexId);
  request.set_subtask_index(change.subtaskIndex);
  request.set_attempt_number(change.attemptNumber);
  request.set_state(toProto(change.state));
  request.set_failure(change.failure);
  request.set_task_manager_id(taskManagerId_);
  v1::TaskStateUpdateResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::Status status = stub->UpdateTaskState(&context, request, &response);
  // NOT_FOUND: the JobMaster no longer knows the job or attempt; nothing to retry.
  return status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND ||
         status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
}

bool TaskStateReporter::send(const v1::AcknowledgeCheckpointRequest& acknowledgement) {
  auto stub = v1::JobMaster::NewStub(channel_);
  v1::AcknowledgeCheckpointResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::Status status = stub->AcknowledgeCheckpoint(&context, acknowledgement, &response);
  // NOT_FOUND: the job or checkpoint is gone (ended, aborted); nothing to retry.
  return status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND ||
         status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
}

}  // namespace brook::taskmanager
