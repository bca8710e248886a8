#include "cli/cluster_client.h"

#include <thread>

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <grpcpp/grpcpp.h>

#include "brook/brook.grpc.pb.h"
#include "common/rpc_status.h"
#include "jobmanager/blob_client.h"
#include "runtime/job_graph_proto.h"

namespace brook::cli {

namespace {

// Short calls (status, list, cancel) and the longer ones (upload, submit).
constexpr auto kCallTimeout = std::chrono::seconds(10);
constexpr auto kSubmitTimeout = std::chrono::seconds(60);

void setDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

// gRPC's messages may span lines; the CLI prints errors on one.
std::string oneLine(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\r\n", "; "}, {"\n", "; "}});
}

// Converts a call's status, keeping its code, with a message on one line that is never empty.
absl::Status fromRpc(const grpc::Status& status, absl::string_view context) {
  if (status.ok())
    return absl::OkStatus();
  std::string message = oneLine(status.error_message());
  if (message.empty()) {
    message = status.error_code() == grpc::StatusCode::UNIMPLEMENTED
                  ? "the JobManager does not serve this call (is it an older version?)"
                  : absl::StrCat("gRPC status code ", static_cast<int>(status.error_code()));
  }
  return fromGrpcStatus(grpc::Status(status.error_code(), message), context);
}

}  // namespace

struct ClusterClient::Rpc {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Dispatcher::Stub> dispatcher;
};

ClusterClient::ClusterClient(JobManagerAddress address, std::unique_ptr<Rpc> rpc)
    : address_(std::move(address)), rpc_(std::move(rpc)) {}

ClusterClient::~ClusterClient() = default;

absl::StatusOr<std::unique_ptr<ClusterClient>> ClusterClient::connect(
    const JobManagerAddress& address, std::chrono::milliseconds timeout) {
  grpc::ChannelArguments args;
  // Retry a refused connection quickly, so that a JobManager that is just starting is found
  // within the timeout.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A large job graph must fit.
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  auto rpc = std::make_unique<Rpc>();
  rpc->channel =
      grpc::CreateCustomChannel(address.toString(), grpc::InsecureChannelCredentials(), args);
  auto deadline = std::chrono::system_clock::now() + timeout;
  if (!rpc->channel->WaitForConnected(deadline)) {
    // The channel keeps no reason; a fail-fast call on it reports the last connection error.
    std::string reason = absl::StrCat("no connection within ", timeout.count(), " ms");
    auto stub = v1::Dispatcher::NewStub(rpc->channel);
    grpc::ClientContext context;
    setDeadline(context, std::chrono::milliseconds(500));
    v1::ListJobsRequest request;
    request.set_protocol_version(runtime::kProtocolVersion);
    v1::ListJobsResponse response;
    grpc::Status probe = stub->ListJobs(&context, request, &response);
    if (probe.error_code() == grpc::StatusCode::UNAVAILABLE && !probe.error_message().empty())
      reason = oneLine(probe.error_message());
    return absl::UnavailableError(
        absl::StrCat("cannot reach the JobManager at ", address.toString(), " (", reason, ")"));
  }
  rpc->dispatcher = v1::Dispatcher::NewStub(rpc->channel);
  return std::unique_ptr<ClusterClient>(new ClusterClient(address, std::move(rpc)));
}

absl::StatusOr<std::string> ClusterClient::uploadArtifact(const std::string& path) {
  return jobmanager::uploadArtifact(rpc_->channel, path, kSubmitTimeout);
}

absl::StatusOr<std::string> ClusterClient::submitJob(const v1::JobGraph& jobGraph) {
  v1::SubmitJobRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  *request.mutable_job_graph() = jobGraph;
  v1::SubmitJobResponse response;
  grpc::ClientContext context;
  setDeadline(context, kSubmitTimeout);
  grpc::Status status = rpc_->dispatcher->SubmitJob(&context, request, &response);
  if (auto s = fromRpc(status, absl::StrCat("submitting job '", jobGraph.job_name(), "'"));
      !s.ok()) {
    return s;
  }
  return response.job_id();
}

absl::StatusOr<v1::JobStatusResponse> ClusterClient::getJobStatus(
    const std::string& jobId, std::chrono::milliseconds timeout) {
  v1::JobIdRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_job_id(jobId);
  v1::JobStatusResponse response;
  grpc::ClientContext context;
  setDeadline(context, timeout);
  grpc::Status status = rpc_->dispatcher->GetJobStatus(&context, request, &response);
  if (auto s = fromRpc(status, absl::StrCat("getting the status of job ", jobId)); !s.ok())
    return s;
  return response;
}

absl::StatusOr<std::vector<v1::JobStatusResponse>> ClusterClient::listJobs(bool includeFinished) {
  v1::ListJobsRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_include_finished(includeFinished);
  v1::ListJobsResponse response;
  grpc::ClientContext context;
  setDeadline(context, kCallTimeout);
  grpc::Status status = rpc_->dispatcher->ListJobs(&context, request, &response);
  if (auto s = fromRpc(status, "listing jobs"); !s.ok())
    return s;
  return std::vector<v1::JobStatusResponse>(response.jobs().begin(), response.jobs().end());
}

absl::StatusOr<v1::JobStatusResponse> ClusterClient::cancelJob(const std::string& jobId) {
  v1::JobIdRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_job_id(jobId);
  v1::JobStatusResponse response;
  grpc::ClientContext context;
  setDeadline(context, kCallTimeout);
  grpc::Status status = rpc_->dispatcher->CancelJob(&context, request, &response);
  if (auto s = fromRpc(status, absl::StrCat("cancelling job ", jobId)); !s.ok())
    return s;
  return response;
}

absl::StatusOr<std::string> ClusterClient::triggerSavepoint(const std::string& jobId,
                                                            const std::string& targetDirectory,
                                                            bool stopJob,
                                                            std::chrono::milliseconds timeout) {
  v1::SavepointRequest request;
  request.set_protocol_version(runtime::kProtocolVersion);
  request.set_job_id(jobId);
  request.set_target_directory(targetDirectory);
  request.set_stop_job(stopJob);
  v1::SavepointResponse response;
  grpc::ClientContext context;
  setDeadline(context, timeout);
  grpc::Status status = rpc_->dispatcher->TriggerSavepoint(&context, request, &response);
  if (auto s = fromRpc(status, absl::StrCat("taking a savepoint of job ", jobId)); !s.ok())
    return s;
  return response.savepoint_path();
}

absl::StatusOr<v1::JobStatus> ClusterClient::waitUntilEnded(const std::string& jobId,
                                                            v1::JobStatus status,
                                                            std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kPollInterval = std::chrono::milliseconds(100);
  constexpr auto kPollTimeout = std::chrono::seconds(1);
  constexpr auto kUnreachableGrace = std::chrono::seconds(5);
  const auto deadline = Clock::now() + timeout;
  auto lastAnswer = Clock::now();
  while (!isTerminal(status)) {
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "job ", jobId, " is still ", jobStatusName(status), " after ",
          std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s"));
    }
    std::this_thread::sleep_for(kPollInterval);
    auto current = getJobStatus(jobId, kPollTimeout);
    if (current.ok()) {
      lastAnswer = Clock::now();
      status = current->status();
    } else if (absl::IsUnavailable(current.status()) ||
               absl::IsDeadlineExceeded(current.status())) {
      if (Clock::now() - lastAnswer >= kUnreachableGrace) {
        return absl::UnavailableError(absl::StrCat("lost the JobManager at ", address_.toString(),
                                                   " while waiting for job ", jobId, " to end (",
                                                   current.status().message(), ")"));
      }
    } else {
      return current.status();
    }
  }
  return status;
}

bool isJobId(const std::string& text) {
  if (text.size() != 32)
    return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ClusterClient>> connectToJobManager(
    const std::string& addressOption,
    const Configuration& config,
    std::chrono::milliseconds timeout) {
  auto address = resolveJobManagerAddress(addressOption, config);
  if (!address.ok())
    return address.status();
  return ClusterClient::connect(*address, timeout);
}

const char* jobStatusName(v1::JobStatus status) {
  switch (status) {
    case v1::JOB_STATUS_CREATED:
      return "CREATED";
    case v1::JOB_STATUS_RUNNING:
      return "RUNNING";
    case v1::JOB_STATUS_FINISHED:
      return "FINISHED";
    case v1::JOB_STATUS_FAILING:
      return "FAILING";
    case v1::JOB_STATUS_FAILED:
      return "FAILED";
    case v1::JOB_STATUS_CANCELLING:
      return "CANCELLING";
    case v1::JOB_STATUS_CANCELED:
      return "CANCELED";
    case v1::JOB_STATUS_RESTARTING:
      return "RESTARTING";
    default:
      return "UNKNOWN";
  }
}

bool isTerminal(v1::JobStatus status) {
  return status == v1::JOB_STATUS_FINISHED || status == v1::JOB_STATUS_FAILED ||
         status == v1::JOB_STATUS_CANCELED;
}

}  // namespace brook::cli
