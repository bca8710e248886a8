#pragma once

#include <string>

#include <absl/status/statusor.h>

#include <brook/functions.h>
#include <brook/stream_execution_environment.h>

#include "common/configuration.h"
#include "runtime/mini_cluster.h"

namespace brook::runtime {

/// Plans `env`'s graph with `config` and runs it to the end on a fresh MiniCluster in this
/// process. A planning error is returned as a status; a failed job is a result with status
/// FAILED and its failure message.
absl::StatusOr<JobExecutionResult> executeLocally(const StreamExecutionEnvironment& env,
                                                  const Configuration& config = {},
                                                  const JobArgs& args = {},
                                                  const std::string& jobName = "local job");

}  // namespace brook::runtime
