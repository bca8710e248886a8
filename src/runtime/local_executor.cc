#include "runtime/local_executor.h"

#include "runtime/job_graph.h"

namespace brook::runtime {

absl::StatusOr<JobExecutionResult> executeLocally(const StreamExecutionEnvironment& env,
                                                  const Configuration& config,
                                                  const JobArgs& args,
                                                  const std::string& jobName) {
  auto graph = buildJobGraph(env, config, jobName);
  if (!graph.ok())
    return graph.status();
  MiniCluster cluster;
  return cluster.execute(*graph, args);
}

}  // namespace brook::runtime
