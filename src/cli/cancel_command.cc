// `brook cancel`: cancels a job on the JobManager and waits until it has ended.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <absl/strings/ascii.h>

#include "cli/cluster_client.h"
#include "cli/commands.h"

namespace brook::cli {

namespace {

constexpr auto kCancelWait = std::chrono::seconds(30);

}  // namespace

std::unique_ptr<ClusterClient> connectForJobCommand(const std::string& jobIdText,
                                                    const ConfigurationOptions& configuration,
                                                    const std::string& jobManager,
                                                    std::string* normalizedJobId, int* exitCode) {
  if (!isJobId(jobIdText)) {
    std::cerr << "error: '" << jobIdText
              << "' is not a job id (expected 32 hex digits, as `brook list` prints them)\n";
    *exitCode = kExitUsage;
    return nullptr;
  }
  *normalizedJobId = absl::AsciiStrToLower(jobIdText);
  auto config = loadCommandConfiguration(configuration);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    *exitCode = kExitUsage;
    return nullptr;
  }
  auto client = connectToJobManager(jobManager, *config);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    *exitCode = absl::IsInvalidArgument(client.status()) ? kExitUsage : kExitFailure;
    return nullptr;
  }
  return *std::move(client);
}

int cancelCommand(const CancelOptions& options) {
  std::string jobId;
  int exitCode = kExitFailure;
  std::unique_ptr<ClusterClient> client = connectForJobCommand(
      options.jobId, options.configuration, options.jobManager, &jobId, &exitCode);
  if (client == nullptr)
    return exitCode;
  std::printf("Cancelling job %s.\n", jobId.c_str());
  std::fflush(stdout);
  auto cancelled = client->cancelJob(jobId);
  if (!cancelled.ok()) {
    if (absl::IsNotFound(cancelled.status())) {
      std::cerr << "error: the JobManager at " << client->address().toString()
                << " knows no job " << jobId << "\n";
    } else {
      std::cerr << "error: " << cancelled.status().message() << "\n";
    }
    return kExitFailure;
  }
  v1::JobStatus status = cancelled->status();
  if (status == v1::JOB_STATUS_FINISHED || status == v1::JOB_STATUS_FAILED) {
    std::cerr << "error: job " << jobId << " had already ended: it is " << jobStatusName(status)
              << "\n";
    return kExitFailure;
  }

  auto ended = client->waitUntilEnded(jobId, status, kCancelWait);
  if (!ended.ok()) {
    std::cerr << "error: " << ended.status().message() << "\n";
    return kExitFailure;
  }
  status = *ended;
  if (status == v1::JOB_STATUS_CANCELED) {
    std::printf("Cancelled job %s.\n", jobId.c_str());
  } else {
    // The job ended on its own before the cancellation reached all of its tasks.
    std::printf("Job %s ended as %s before it was cancelled.\n", jobId.c_str(),
                jobStatusName(status));
  }
  return kExitSuccess;
}

}  // namespace brook::cli
