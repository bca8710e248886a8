#pragma once

// Planning a job in the `brook` command: the configuration it is planned with, and its
// JobGraph, planned twice and compared as every TaskManager will compare it.

#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include <brook/functions.h>
#include <brook/stream_execution_environment.h>

#include "common/configuration.h"
#include "runtime/job_graph.h"
#include "runtime/job_library.h"

namespace brook::cli {

// Where a command's configuration comes from: the file of -c (or $BROOK_CONF_DIR/brook.yaml),
// the -D options over it, and -p (when positive) over both.
struct ConfigurationOptions {
  std::string confFile;
  std::vector<std::string> dynamicProperties;
  int parallelism = 0;
};

// Builds and validates the configuration; errors name the file, line or key at fault.
absl::StatusOr<Configuration> loadCommandConfiguration(const ConfigurationOptions& options);

// A job library loaded and planned: the library stays loaded while its graph is used.
struct PlannedJob {
  std::unique_ptr<runtime::JobLibrary> library;
  std::unique_ptr<StreamExecutionEnvironment> env;
  JobArgs args;
  runtime::JobGraph graph;
};

// Loads the job library at `jobPath` and plans its graph with `jobArgs` and `config`. Errors
// carry the library's or the job's message.
absl::StatusOr<PlannedJob> planJob(const std::string& jobPath,
                                   const std::vector<std::string>& jobArgs,
                                   const Configuration& config);

// Plans the job twice and checks that both graphs have the same fingerprint, as every
// TaskManager checks its own planning against the submitted graph: FailedPrecondition naming
// both fingerprints when the graph depends on clocks, randomness or the environment.
absl::StatusOr<PlannedJob> planJobChecked(const std::string& jobPath,
                                          const std::vector<std::string>& jobArgs,
                                          const Configuration& config);

}  // namespace brook::cli
