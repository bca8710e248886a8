#include "jobmanager/dispatcher.h"

#include <absl/strings/str_cat.h>

#include "common/configuration.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "runtime/job_graph_proto.h"
#include "runtime/mini_cluster.h"

namespace brook::jobmanager {

Dispatcher::Dispatcher(Options options, ResourceManager* resources, const BlobStore* blobs)
    : options_(std::move(options)), resources_(resources), blobs_(blobs) {
  resources_->addLossListener([this](const std::string& taskManagerId, const std::string& reason) {
    std::vector<std::shared_ptr<JobMaster>> jobs;
    {
      absl::MutexLock lock(&mutex_);
      for (const auto& [id, job] : jobs_)
        jobs.push_back(job);
    }
    for (const auto& job : jobs)
      job->onTaskManagerLost(taskManagerId, reason);
  });
}

Dispatcher::~Dispatcher() {
  std::map<std::string, std::shared_ptr<JobMaster>> jobs;
  {
    absl::MutexLock lock(&mutex_);
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs)
    job->cancel();
  jobs.clear();  // each JobMaster waits for its job to end
}

absl::StatusOr<std::string> Dispatcher::submit(const v1::SubmitJobRequest& request) {
  BROOK_RETURN_IF_ERROR(
      checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion));
  const v1::JobGraph& graph = request.job_graph();
  BROOK_RETURN_IF_ERROR(runtime::validateJobGraphProto(graph));
  if (!blobs_->contains(graph.artifact_sha256())) {
    return absl::NotFoundError(absl::StrCat("job '", graph.job_name(), "': artifact ",
                                            graph.artifact_sha256(),
                                            " is not in the BlobServer; upload it first"));
  }
  // The job's configuration wins over the cluster's.
  Configuration config;
  for (const auto& [key, value] : options_.configuration)
    config.set(key, value);
  for (const auto& [key, value] : graph.configuration())
    config.set(key, value);
  if (auto s = config.validate(); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job '", graph.job_name(), "' configuration: ", s.message()));
  }
  JobMaster::Options jobOptions;
  BROOK_ASSIGN_OR_RETURN(jobOptions.restartStrategy, restartStrategyForJob(config));
  jobOptions.slotRequestTimeout =
      std::chrono::milliseconds(*config.getDurationMillis(config_keys::kSlotRequestTimeout, 60000));

  std::string jobId = runtime::newJobId();
  auto job = std::make_shared<JobMaster>(jobId, graph, jobOptions, resources_);
  {
    absl::MutexLock lock(&mutex_);
    jobs_.emplace(jobId, job);
    order_.push_back(jobId);
  }
  getLogger("jobmanager")
      ->info("[{}] job '{}' submitted: {} vertices, artifact {}", jobId, graph.job_name(),
             graph.vertices_size(), graph.artifact_sha256());
  job->start();
  return jobId;
}

std::shared_ptr<JobMaster> Dispatcher::find(const std::string& jobId) const {
  absl::MutexLock lock(&mutex_);
  auto it = jobs_.find(jobId);
  return it == jobs_.end() ? nullptr : it->second;
}

absl::StatusOr<v1::JobStatusResponse> Dispatcher::status(const std::string& jobId) const {
  auto job = find(jobId);
  if (job == nullptr)
    return absl::NotFoundError(absl::StrCat("no job with id ", jobId));
  return job->describe();
}

std::vector<v1::JobStatusResponse> Dispatcher::list(bool includeFinished) const {
  std::vector<std::shared_ptr<JobMaster>> jobs;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& id : order_)
      jobs.push_back(jobs_.at(id));
  }
  std::vector<v1::JobStatusResponse> out;
  for (const auto& job : jobs) {
    if (includeFinished || !job->terminal())
      out.push_back(job->describe());
  }
  return out;
}

absl::StatusOr<v1::JobStatusResponse> Dispatcher::cancel(const std::string& jobId) {
  auto job = find(jobId);
  if (job == nullptr)
    return absl::NotFoundError(absl::StrCat("no job with id ", jobId));
  if (!job->terminal()) {
    getLogger("jobmanager")->info("[{}] cancelling job on request", jobId);
    job->cancel();
  }
  return job->describe();
}

absl::Status Dispatcher::updateTaskState(const v1::TaskStateUpdate& update) {
  BROOK_RETURN_IF_ERROR(checkProtocolVersion(update.protocol_version(), runtime::kProtocolVersion));
  auto job = find(update.job_id());
  if (job == nullptr)
    return absl::NotFoundError(absl::StrCat("no job with id ", update.job_id()));
  return job->updateTaskState(update);
}

absl::Status Dispatcher::acknowledgeCheckpoint(const v1::AcknowledgeCheckpointRequest& request) {
  BROOK_RETURN_IF_ERROR(checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion));
  auto job = find(request.job_id());
  if (job == nullptr)
    return absl::NotFoundError(absl::StrCat("no job with id ", request.job_id()));
  return job->acknowledgeCheckpoint(request);
}

absl::StatusOr<std::string> Dispatcher::triggerSavepoint(const v1::SavepointRequest& request) {
  BROOK_RETURN_IF_ERROR(checkProtocolVersion(request.protocol_version(), runtime::kProtocolVersion));
  auto job = find(request.job_id());
  if (job == nullptr)
    return absl::NotFoundError(absl::StrCat("no job with id ", request.job_id()));
  getLogger("jobmanager")
      ->info("[{}] {} on request", request.job_id(),
             request.stop_job() ? "stopping with a savepoint" : "taking a savepoint");
  return job->triggerSavepoint(request.target_directory(), request.stop_job());
}

grpc::Status DispatcherService::SubmitJob(grpc::ServerContext*,
                                          const v1::SubmitJobRequest* request,
                                          v1::SubmitJobResponse* response) {
  auto id = dispatcher_->submit(*request);
  if (!id.ok())
    return toGrpcStatus(id.status());
  response->set_job_id(*id);
  return grpc::Status::OK;
}

grpc::Status DispatcherService::ListJobs(grpc::ServerContext*,
                                         const v1::ListJobsRequest* request,
                                         v1::ListJobsResponse* response) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  for (auto& job : dispatcher_->list(request->include_finished()))
    *response->add_jobs() = std::move(job);
  return grpc::Status::OK;
}

grpc::Status DispatcherService::GetJobStatus(grpc::ServerContext*,
                                             const v1::JobIdRequest* request,
                                             v1::JobStatusResponse* response) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  auto status = dispatcher_->status(request->job_id());
  if (!status.ok())
    return toGrpcStatus(status.status());
  *response = std::move(*status);
  return grpc::Status::OK;
}

grpc::Status DispatcherService::CancelJob(grpc::ServerContext*,
                                          const v1::JobIdRequest* request,
                                          v1::JobStatusResponse* response) {
  if (auto s = checkProtocolVersion(request->protocol_version(), runtime::kProtocolVersion);
      !s.ok()) {
    return toGrpcStatus(s);
  }
  auto status = dispatcher_->cancel(request->job_id());
  if (!status.ok())
    return toGrpcStatus(status.status());
  *response = std::move(*status);
  return grpc::Status::OK;
}

grpc::Status DispatcherService::TriggerSavepoint(grpc::ServerContext*,
                                                 const v1::SavepointRequest* request,
                                                 v1::SavepointResponse* response) {
  absl::StatusOr<std::string> path = dispatcher_->triggerSavepoint(*request);
  if (!path.ok())
    return toGrpcStatus(path.status());
  response->set_savepoint_path(*path);
  return grpc::Status::OK;
}

grpc::Status JobMasterService::UpdateTaskState(grpc::ServerContext*,
                                               const v1::TaskStateUpdate* request,
                                               v1::TaskStateUpdateResponse*) {
  return toGrpcStatus(dispatcher_->updateTaskState(*request));
}

grpc::Status JobMasterService::AcknowledgeCheckpoint(grpc::ServerContext*,
                                                     const v1::AcknowledgeCheckpointRequest* request,
                                                     v1::AcknowledgeCheckpointResponse*) {
  return toGrpcStatus(dispatcher_->acknowledgeCheckpoint(*request));
}

}  // namespace brook::jobmanager
