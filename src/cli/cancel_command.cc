// `brook cancel`: cancels a job on the JobManager and waits until it has ended.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <absl/strings/ascii.h>

#include "cli/cluster_client.h"
#include "cli/commands.h"

namespace brook::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kPollTimeout = std::chrono::seconds(1);
constexpr auto kUnreachableGrace = std::chrono::seconds(5);
constexpr auto kCancelWait = std::chrono::seconds(30);

// A job id is Flink's JobID: 32 hex digits.
bool isJobId(const std::string& text) {
  if (text.size() != 32)
    return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

}  // namespace

int cancelCommand(const CancelOptions& options) {
  if (!isJobId(options.jobId)) {
    std::cerr << "error: '" << options.jobId
              << "' is not a job id (expected 32 hex digits, as `brook list` prints them)\n";
    return kExitUsage;
  }
  std::string jobId = absl::AsciiStrToLower(options.jobId);
  auto config = loadCommandConfiguration(options.configuration);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return kExitUsage;
  }
  auto client = connectToJobManager(options.jobManager, *config);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return absl::IsInvalidArgument(client.status()) ? kExitUsage : kExitFailure;
  }
  std::printf("Cancelling job %s.\n", jobId.c_str());
  std::fflush(stdout);
  auto cancelled = (*client)->cancelJob(jobId);
  if (!cancelled.ok()) {
    if (absl::IsNotFound(cancelled.status())) {
      std::cerr << "error: the JobManager at " << (*client)->address().toString()
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

  auto deadline = Clock::now() + kCancelWait;
  auto lastAnswer = Clock::now();
  while (!isTerminal(status)) {
    if (Clock::now() >= deadline) {
      std::cerr << "error: job " << jobId << " is still " << jobStatusName(status) << " "
                << std::chrono::duration_cast<std::chrono::seconds>(kCancelWait).count()
                << " s after its cancellation was requested\n";
      return kExitFailure;
    }
    std::this_thread::sleep_for(kPollInterval);
    auto current = (*client)->getJobStatus(jobId, kPollTimeout);
    if (current.ok()) {
      lastAnswer = Clock::now();
      status = current->status();
    } else if (absl::IsUnavailable(current.status()) ||
               absl::IsDeadlineExceeded(current.status())) {
      if (Clock::now() - lastAnswer >= kUnreachableGrace) {
        std::cerr << "error: lost the JobManager at " << (*client)->address().toString()
                  << " while cancelling job " << jobId << " (" << current.status().message()
                  << ")\n";
        return kExitFailure;
      }
    } else {
      std::cerr << "error: " << current.status().message() << "\n";
      return kExitFailure;
    }
  }
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
