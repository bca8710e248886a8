#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include "brook/brook.grpc.pb.h"
#include "jobmanager/blob_server.h"
#include "jobmanager/job_master.h"
#include "jobmanager/resource_manager.h"

namespace brook::jobmanager {

/// Accepts jobs and keeps the job table: one JobMaster per submitted job, kept after the job
/// ends so that its final status can be listed. Routes task state updates and TaskManager
/// losses to the JobMasters. Thread-safe.
class Dispatcher {
 public:
  struct Options {
    /// The cluster's configuration: restart strategy and slot request timeout unless the job
    /// sets its own.
    std::map<std::string, std::string> configuration;
  };

  Dispatcher(Options options, ResourceManager* resources, const BlobStore* blobs);
  /// Cancels every running job and waits for them to end.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Validates the job (protocol, structure, artifact present, configuration) and starts it;
  /// returns its new job id.
  absl::StatusOr<std::string> submit(const v1::SubmitJobRequest& request);
  absl::StatusOr<v1::JobStatusResponse> status(const std::string& jobId) const;
  std::vector<v1::JobStatusResponse> list(bool includeFinished) const;
  /// Asks the job to cancel; returns its status after the request.
  absl::StatusOr<v1::JobStatusResponse> cancel(const std::string& jobId);
  absl::Status updateTaskState(const v1::TaskStateUpdate& update);
  /// A task's acknowledgement or decline of a checkpoint, for its job's coordinator.
  absl::Status acknowledgeCheckpoint(const v1::AcknowledgeCheckpointRequest& request);
  /// Takes a savepoint of a running job (and then cancels it, with `request.stop_job()`);
  /// returns the savepoint's path.
  absl::StatusOr<std::string> triggerSavepoint(const v1::SavepointRequest& request);

 private:
  std::shared_ptr<JobMaster> find(const std::string& jobId) const;

  const Options options_;
  ResourceManager* resources_;
  const BlobStore* blobs_;
  mutable absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<JobMaster>> jobs_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mutex_);  ///< job ids, oldest first
};

/// The Dispatcher's gRPC face (job submission and control).
class DispatcherService final : public v1::Dispatcher::Service {
 public:
  explicit DispatcherService(Dispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::Status SubmitJob(grpc::ServerContext* context,
                         const v1::SubmitJobRequest* request,
                         v1::SubmitJobResponse* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status GetJobStatus(grpc::ServerContext* context,
                            const v1::JobIdRequest* request,
                            v1::JobStatusResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::JobIdRequest* request,
                         v1::JobStatusResponse* response) override;
  grpc::Status TriggerSavepoint(grpc::ServerContext* context,
                                const v1::SavepointRequest* request,
                                v1::SavepointResponse* response) override;

 private:
  Dispatcher* dispatcher_;
};

/// The JobMasters' gRPC face towards the TaskManagers (task state updates, checkpoint acks).
class JobMasterService final : public v1::JobMaster::Service {
 public:
  explicit JobMasterService(Dispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::Status UpdateTaskState(grpc::ServerContext* context,
                               const v1::TaskStateUpdate* request,
                               v1::TaskStateUpdateResponse* response) override;
  grpc::Status AcknowledgeCheckpoint(grpc::ServerContext* context,
                                     const v1::AcknowledgeCheckpointRequest* request,
                                     v1::AcknowledgeCheckpointResponse* response) override;

 private:
  Dispatcher* dispatcher_;
};

}  // namespace brook::jobmanager
