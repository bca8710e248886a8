// `brook savepoint` and `brook stop`: a savepoint of a running job on the JobManager, and a
// savepoint followed by the end of the job.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/cluster_client.h"
#include "cli/commands.h"

namespace brook::cli {

namespace {

// Longer than the default checkpoint timeout (10 min), after which the JobManager gives up.
constexpr auto kSavepointWait = std::chrono::minutes(11);
constexpr auto kStopWait = std::chrono::seconds(60);

}  // namespace

int savepointCommand(const SavepointOptions& options) {
  std::string jobId;
  int exitCode = kExitFailure;
  std::unique_ptr<ClusterClient> client = connectForJobCommand(
      options.jobId, options.configuration, options.jobManager, &jobId, &exitCode);
  if (client == nullptr)
    return exitCode;
  std::printf("%s job %s.\n", options.stop ? "Stopping with a savepoint" : "Triggering savepoint for",
              jobId.c_str());
  std::fflush(stdout);
  auto path = client->triggerSavepoint(jobId, options.targetDirectory, options.stop,
                                          kSavepointWait);
  if (!path.ok()) {
    if (absl::IsNotFound(path.status())) {
      std::cerr << "error: the JobManager at " << client->address().toString()
                << " knows no job " << jobId << "\n";
    } else {
      std::cerr << "error: " << path.status().message() << "\n";
    }
    return kExitFailure;
  }
  std::printf("Savepoint completed. Path: %s\n", path->c_str());
  if (options.stop) {
    auto ended = client->waitUntilEnded(jobId, v1::JOB_STATUS_RUNNING, kStopWait);
    if (!ended.ok()) {
      std::cerr << "error: " << ended.status().message() << "\n";
      return kExitFailure;
    }
    std::printf("Job %s is %s.\n", jobId.c_str(), jobStatusName(*ended));
  } else {
    std::printf("You can resume your program from this savepoint with the run command.\n");
  }
  return kExitSuccess;
}

}  // namespace brook::cli
