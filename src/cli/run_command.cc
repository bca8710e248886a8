// `brook run`: a job on the embedded mini-cluster (--local), or submitted to a JobManager and
// followed until it ends.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

#include "cli/cluster_client.h"
#include "cli/commands.h"
#include "cli/job_planner.h"
#include "runtime/job_graph_proto.h"
#include "runtime/mini_cluster.h"

namespace brook::cli {

namespace {

using Clock = std::chrono::steady_clock;

// How often an attached client asks for the job's status, how long it tolerates a JobManager
// that does not answer, and how long it waits for a cancelled job to end.
// Short jobs end within milliseconds: polls start at kFirstPoll and back off to kPollInterval.
constexpr auto kFirstPoll = std::chrono::milliseconds(5);
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kPollTimeout = std::chrono::seconds(1);
constexpr auto kUnreachableGrace = std::chrono::seconds(5);
constexpr auto kCancelWait = std::chrono::seconds(30);

// SIGINT and SIGTERM received since the handler was installed.
std::atomic<int> gInterrupts{0};

void onSignal(int) {
  gInterrupts.fetch_add(1);
}

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void printError(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
}

// The final lines of a job, as the local and the cluster path print them; returns the exit code.
int reportOutcome(const std::string& jobId,
                  v1::JobStatus status,
                  const std::string& failure,
                  long long runtimeMillis) {
  std::fflush(stdout);
  switch (status) {
    case v1::JOB_STATUS_FINISHED:
      std::fprintf(stderr, "Job with JobID %s has finished.\nJob Runtime: %lld ms\n", jobId.c_str(),
                   runtimeMillis);
      return kExitSuccess;
    case v1::JOB_STATUS_CANCELED:
      std::fprintf(stderr, "Job with JobID %s was canceled.\n", jobId.c_str());
      return kExitInterrupted;
    default:
      std::fprintf(stderr,
                   "The program finished with the following exception:\n\n"
                   "Job with JobID %s failed: %s\n",
                   jobId.c_str(), failure.c_str());
      return kExitFailure;
  }
}

v1::JobStatus toProtoStatus(runtime::JobStatus status) {
  switch (status) {
    case runtime::JobStatus::kCreated:
      return v1::JOB_STATUS_CREATED;
    case runtime::JobStatus::kRunning:
      return v1::JOB_STATUS_RUNNING;
    case runtime::JobStatus::kFinished:
      return v1::JOB_STATUS_FINISHED;
    case runtime::JobStatus::kFailing:
      return v1::JOB_STATUS_FAILING;
    case runtime::JobStatus::kFailed:
      return v1::JOB_STATUS_FAILED;
    case runtime::JobStatus::kCancelling:
      return v1::JOB_STATUS_CANCELLING;
    case runtime::JobStatus::kCanceled:
      return v1::JOB_STATUS_CANCELED;
    case runtime::JobStatus::kRestarting:
      return v1::JOB_STATUS_RESTARTING;
  }
  return v1::JOB_STATUS_UNSPECIFIED;
}

int runLocal(PlannedJob& job) {
  runtime::MiniCluster cluster;
  installSignalHandlers();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (gInterrupts.load() > 0) {
        cluster.cancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto result =
      cluster.execute(job.graph, job.args, [](const std::string& jobId, runtime::JobStatus status) {
        if (status == runtime::JobStatus::kCreated) {
          std::fprintf(stderr, "Job has been submitted with JobID %s\n", jobId.c_str());
        } else {
          std::fprintf(stderr, "Job %s switched to %s\n", jobId.c_str(),
                       runtime::jobStatusName(status));
        }
      });
  done.store(true);
  watcher.join();
  if (result.completedCheckpoints > 0) {
    std::fprintf(stderr, "Completed checkpoints: %lld; the latest is %s\n",
                 static_cast<long long>(result.completedCheckpoints),
                 result.latestCheckpoint.c_str());
  }
  return reportOutcome(result.jobId, toProtoStatus(result.status), result.failure,
                       static_cast<long long>(result.durationMillis));
}

// Follows a submitted job until it ends, printing its status changes. The first SIGINT or
// SIGTERM cancels the job and waits (up to kCancelWait) for it to end; a second one stops
// waiting. A JobManager that does not answer for kUnreachableGrace ends the wait with an error.
int followJob(ClusterClient& client, const std::string& jobId) {
  v1::JobStatus last = v1::JOB_STATUS_CREATED;
  auto submittedAt = Clock::now();
  auto lastAnswer = Clock::now();
  std::chrono::milliseconds pollInterval = kFirstPoll;
  bool cancelRequested = false;
  std::optional<Clock::time_point> cancelDeadline;
  while (true) {
    int interrupts = gInterrupts.load();
    if (interrupts > 1) {
      std::fprintf(stderr,
                   "Stopped waiting for job %s, which is %s; `brook cancel %s` cancels it.\n",
                   jobId.c_str(), jobStatusName(last), jobId.c_str());
      return kExitInterrupted;
    }
    if (interrupts == 1 && !cancelRequested) {
      if (!cancelDeadline) {
        std::fprintf(stderr, "Cancelling job %s.\n", jobId.c_str());
        cancelDeadline = Clock::now() + kCancelWait;
      }
      // A cancellation the JobManager did not receive is retried on the next round.
      auto cancelled = client.cancelJob(jobId);
      if (cancelled.ok()) {
        cancelRequested = true;
      } else if (!absl::IsUnavailable(cancelled.status()) &&
                 !absl::IsDeadlineExceeded(cancelled.status())) {
        printError(cancelled.status());
        return kExitFailure;
      }
    }

    auto status = client.getJobStatus(jobId, kPollTimeout);
    auto now = Clock::now();
    if (status.ok()) {
      lastAnswer = now;
      if (status->status() != last && status->status() != v1::JOB_STATUS_UNSPECIFIED) {
        last = status->status();
        std::fprintf(stderr, "Job %s switched to %s\n", jobId.c_str(), jobStatusName(last));
      }
      if (isTerminal(last)) {
        long long runtimeMillis =
            status->end_time_millis() > 0 && status->start_time_millis() > 0
                ? static_cast<long long>(status->end_time_millis() - status->start_time_millis())
                : static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - submittedAt)
                          .count());
        int exitCode = reportOutcome(jobId, last, status->failure(), runtimeMillis);
        return cancelDeadline ? kExitInterrupted : exitCode;
      }
    } else if (absl::IsUnavailable(status.status()) || absl::IsDeadlineExceeded(status.status())) {
      if (now - lastAnswer >= kUnreachableGrace) {
        std::fprintf(stderr, "error: lost the JobManager at %s while following job %s (%s)\n",
                     client.address().toString().c_str(), jobId.c_str(),
                     std::string(status.status().message()).c_str());
        return kExitFailure;
      }
    } else {
      printError(status.status());
      return kExitFailure;
    }

    if (cancelDeadline && now >= *cancelDeadline) {
      std::fprintf(stderr,
                   "error: job %s is still %s %lld s after its cancellation was requested\n",
                   jobId.c_str(), jobStatusName(last),
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::seconds>(kCancelWait).count()));
      return kExitInterrupted;
    }
    std::this_thread::sleep_for(pollInterval);
    pollInterval = std::min(pollInterval * 2, std::chrono::milliseconds(kPollInterval));
  }
}

int runOnCluster(const RunOptions& options, const Configuration& config, PlannedJob& job) {
  auto client = connectToJobManager(options.jobManager, config);
  if (!client.ok()) {
    printError(client.status());
    return absl::IsInvalidArgument(client.status()) ? kExitUsage : kExitFailure;
  }
  auto sha256 = (*client)->uploadArtifact(options.jobPath);
  if (!sha256.ok()) {
    printError(sha256.status());
    return kExitFailure;
  }
  v1::JobGraph graph = runtime::toProto(job.graph, job.args, config);
  graph.set_artifact_sha256(*sha256);

  // From here on an interrupt must not lose a job that the JobManager may have accepted.
  if (!options.detached)
    installSignalHandlers();
  auto jobId = (*client)->submitJob(graph);
  if (!jobId.ok()) {
    printError(jobId.status());
    return kExitFailure;
  }
  if (options.detached) {
    std::printf("Job has been submitted with JobID %s\n", jobId->c_str());
    return kExitSuccess;
  }
  std::fprintf(stderr, "Job has been submitted with JobID %s\n", jobId->c_str());
  return followJob(**client, *jobId);
}

}  // namespace

int runCommand(const RunOptions& options) {
  auto config = loadCommandConfiguration(options.configuration);
  if (!config.ok()) {
    printError(config.status());
    return kExitUsage;
  }
  if (!options.fromSavepoint.empty())
    config->set(config_keys::kSavepointPath, options.fromSavepoint);
  if (options.allowNonRestoredState)
    config->set(config_keys::kSavepointIgnoreUnclaimedState, "true");
  // A malformed JobManager address is a usage error, reported before any planning.
  if (!options.local) {
    if (auto address = resolveJobManagerAddress(options.jobManager, *config); !address.ok()) {
      printError(address.status());
      return kExitUsage;
    }
  }
  // Plan twice and compare, as every TaskManager does before it runs its subtasks.
  auto job = planJobChecked(options.jobPath, options.jobArgs, *config);
  if (!job.ok()) {
    printError(job.status());
    return kExitFailure;
  }
  if (options.local)
    return runLocal(*job);
  return runOnCluster(options, *config, *job);
}

}  // namespace brook::cli
