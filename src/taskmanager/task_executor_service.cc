#include "taskmanager/task_executor_service.h"

#include "common/rpc_status.h"
#include "runtime/job_graph_proto.h"
#include "taskmanager/task_executor.h"

namespace brook::taskmanager {

grpc::Status TaskExecutorService::DeployTask(grpc::ServerContext* /*context*/,
                                             const v1::TaskDeployment* request,
                                             v1::TaskDeploymentResponse* /*response*/) {
  return toGrpcStatus(executor_->deployTask(*request));
}

grpc::Status TaskExecutorService::CancelTask(grpc::ServerContext* /*context*/,
                                             const v1::CancelTaskRequest* request,
                                             v1::CancelTaskResponse* /*response*/) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  return toGrpcStatus(executor_->cancelTask(request->job_id(), request->vertex_id(),
                                            request->subtask_index(), request->attempt_number()));
}

grpc::Status TaskExecutorService::ReleaseJob(grpc::ServerContext* /*context*/,
                                             const v1::ReleaseJobRequest* request,
                                             v1::ReleaseJobResponse* /*response*/) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  executor_->releaseJob(request->job_id());
  return grpc::Status::OK;
}

grpc::Status TaskExecutorService::TriggerCheckpoint(grpc::ServerContext* /*context*/,
                                                    const v1::TriggerCheckpointRequest* request,
                                                    v1::TriggerCheckpointResponse* /*response*/) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  return toGrpcStatus(executor_->triggerCheckpoint(request->job_id(), request->checkpoint_id(),
                                                   request->timestamp_millis(),
                                                   request->is_savepoint()));
}

grpc::Status TaskExecutorService::NotifyCheckpointComplete(
    grpc::ServerContext* /*context*/, const v1::NotifyCheckpointRequest* request,
    v1::NotifyCheckpointResponse* /*response*/) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  executor_->notifyCheckpointComplete(request->job_id(), request->checkpoint_id());
  return grpc::Status::OK;
}

grpc::Status TaskExecutorService::NotifyCheckpointAborted(
    grpc::ServerContext* /*context*/, const v1::NotifyCheckpointRequest* request,
    v1::NotifyCheckpointResponse* /*response*/) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  executor_->notifyCheckpointAborted(request->job_id(), request->checkpoint_id());
  return grpc::Status::OK;
}

}  // namespace brook::taskmanager
