// `brook info`: the JobGraph of a job as JSON, planned without running it.

#include <iostream>

#include "cli/commands.h"
#include "cli/job_planner.h"

namespace brook::cli {

int infoCommand(const InfoOptions& options) {
  auto config = loadCommandConfiguration(options.configuration);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return kExitUsage;
  }
  auto job = planJob(options.jobPath, options.jobArgs, *config);
  if (!job.ok()) {
    std::cerr << "error: " << job.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << job->graph.toJson();
  return kExitSuccess;
}

}  // namespace brook::cli
