#include "cli/job_planner.h"

#include <exception>

#include <absl/strings/str_cat.h>

namespace brook::cli {

absl::StatusOr<Configuration> loadCommandConfiguration(const ConfigurationOptions& options) {
  auto config = loadConfiguration(options.confFile, options.dynamicProperties);
  if (!config.ok())
    return config.status();
  if (options.parallelism > 0)
    config->set(config_keys::kParallelismDefault, std::to_string(options.parallelism));
  return config;
}

absl::StatusOr<PlannedJob> planJob(const std::string& jobPath,
                                   const std::vector<std::string>& jobArgs,
                                   const Configuration& config) {
  PlannedJob job;
  auto library = runtime::JobLibrary::load(jobPath);
  if (!library.ok())
    return library.status();
  job.library = std::move(*library);
  try {
    job.args = JobArgs::parse(jobArgs);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  job.env = std::make_unique<StreamExecutionEnvironment>(config.values());
  if (auto s = job.library->plan(*job.env, job.args); !s.ok())
    return s;
  auto graph = runtime::buildJobGraph(*job.env, config, job.library->name());
  if (!graph.ok()) {
    return absl::Status(graph.status().code(), absl::StrCat("job '", job.library->name(),
                                                            "': ", graph.status().message()));
  }
  job.graph = std::move(*graph);
  return job;
}

absl::StatusOr<PlannedJob> planJobChecked(const std::string& jobPath,
                                          const std::vector<std::string>& jobArgs,
                                          const Configuration& config) {
  auto job = planJob(jobPath, jobArgs, config);
  if (!job.ok())
    return job;
  auto again = planJob(jobPath, jobArgs, config);
  if (!again.ok())
    return again.status();
  if (again->graph.fingerprint() != job->graph.fingerprint()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", job->library->name(), "' plans a different graph each time it is planned ",
        "(fingerprints ", job->graph.fingerprint(), " and ", again->graph.fingerprint(),
        "); the graph must not depend on clocks, randomness or the environment"));
  }
  return job;
}

}  // namespace brook::cli
