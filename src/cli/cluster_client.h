#pragma once

// The `brook` command's connection to a JobManager: artifact upload and the Dispatcher calls
// (submit, status, list, cancel). This header includes no gRPC headers; the generated
// Protobuf messages are the vocabulary.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "brook/brook.pb.h"
#include "cli/jobmanager_address.h"

namespace brook::cli {

// A client of one JobManager's Dispatcher and BlobServer. Every request carries this build's
// protocol version and every call has a deadline, so no method blocks for longer than its
// timeout. Errors keep the server's gRPC code (as an absl code) and its message, prefixed with
// what was being done. Not thread-safe: one thread uses it.
class ClusterClient {
 public:
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Opens a channel to `address` and waits up to `timeout` for it to connect. Unavailable with
  // one line, "cannot reach the JobManager at HOST:PORT (<reason>)", when it does not.
  static absl::StatusOr<std::unique_ptr<ClusterClient>> connect(
      const JobManagerAddress& address,
      std::chrono::milliseconds timeout = std::chrono::seconds(3));

  // Uploads the job library at `path` to the BlobServer and returns its SHA-256.
  absl::StatusOr<std::string> uploadArtifact(const std::string& path);

  // Submits a planned job (its artifact uploaded before) and returns the job id.
  absl::StatusOr<std::string> submitJob(const v1::JobGraph& jobGraph);

  // The status of a job; NotFound for an id the JobManager does not know. Fails with
  // DeadlineExceeded after `timeout`.
  absl::StatusOr<v1::JobStatusResponse> getJobStatus(
      const std::string& jobId, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The jobs that have not ended, and with `includeFinished` the ended ones too.
  absl::StatusOr<std::vector<v1::JobStatusResponse>> listJobs(bool includeFinished);

  // Asks the JobManager to cancel a job; returns its status afterwards (CANCELLING, or the
  // terminal status of a job that had already ended). NotFound for an unknown id.
  absl::StatusOr<v1::JobStatusResponse> cancelJob(const std::string& jobId);

  // Takes a savepoint of a running job into a new folder under `targetDirectory` (empty: the
  // job's state.savepoints.dir) and returns the savepoint's path; with `stopJob` the job is
  // cancelled once the savepoint is complete. Waits up to `timeout`.
  absl::StatusOr<std::string> triggerSavepoint(const std::string& jobId,
                                               const std::string& targetDirectory, bool stopJob,
                                               std::chrono::milliseconds timeout);

  // Polls the job's status until it has ended or `timeout` passed (DeadlineExceeded naming
  // the status it is stuck in); `status` is the last status known. Tolerates a JobManager that
  // does not answer for a few seconds.
  absl::StatusOr<v1::JobStatus> waitUntilEnded(const std::string& jobId, v1::JobStatus status,
                                               std::chrono::milliseconds timeout);

  const JobManagerAddress& address() const { return address_; }

 private:
  struct Rpc;
  ClusterClient(JobManagerAddress address, std::unique_ptr<Rpc> rpc);

  JobManagerAddress address_;
  std::unique_ptr<Rpc> rpc_;
};

// Finds the JobManager (resolveJobManagerAddress with the -m value `addressOption`) and
// connects to it: InvalidArgument when the address is malformed (a usage error), Unavailable
// when the JobManager cannot be reached within `timeout`.
absl::StatusOr<std::unique_ptr<ClusterClient>> connectToJobManager(
    const std::string& addressOption,
    const Configuration& config,
    std::chrono::milliseconds timeout = std::chrono::seconds(3));

// The status's name without the enum prefix, as Flink prints it: "RUNNING", "CANCELED".
const char* jobStatusName(v1::JobStatus status);

// Tells whether a job with this status has ended: FINISHED, FAILED or CANCELED.
bool isTerminal(v1::JobStatus status);

// Whether `text` is a job id as Flink's JobID prints: 32 hex digits.
bool isJobId(const std::string& text);

}  // namespace brook::cli
