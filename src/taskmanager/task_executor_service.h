#pragma once

#include "brook/brook.grpc.pb.h"

namespace brook::taskmanager {

class TaskExecutor;

/// The gRPC face of a TaskExecutor: the JobMaster deploys, cancels and releases through it, and
/// triggers and confirms checkpoints.
class TaskExecutorService final : public v1::TaskExecutor::Service {
 public:
  explicit TaskExecutorService(TaskExecutor* executor) : executor_(executor) {}

  grpc::Status DeployTask(grpc::ServerContext* context,
                          const v1::TaskDeployment* request,
                          v1::TaskDeploymentResponse* response) override;
  grpc::Status CancelTask(grpc::ServerContext* context,
                          const v1::CancelTaskRequest* request,
                          v1::CancelTaskResponse* response) override;
  grpc::Status ReleaseJob(grpc::ServerContext* context,
                          const v1::ReleaseJobRequest* request,
                          v1::ReleaseJobResponse* response) override;
  grpc::Status TriggerCheckpoint(grpc::ServerContext* context,
                                 const v1::TriggerCheckpointRequest* request,
                                 v1::TriggerCheckpointResponse* response) override;
  grpc::Status NotifyCheckpointComplete(grpc::ServerContext* context,
                                        const v1::NotifyCheckpointRequest* request,
                                        v1::NotifyCheckpointResponse* response) override;
  grpc::Status NotifyCheckpointAborted(grpc::ServerContext* context,
                                       const v1::NotifyCheckpointRequest* request,
                                       v1::NotifyCheckpointResponse* response) override;

 private:
  TaskExecutor* executor_;
};

}  // namespace brook::taskmanager
