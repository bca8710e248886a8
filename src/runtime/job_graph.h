#pragma once

/// The JobGraph: the StreamGraph with parallelism resolved and forward edges of equal
/// parallelism fused into chains. Each JobVertex runs as `parallelism` tasks.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include <brook/functions.h>
#include <brook/stream_execution_environment.h>
#include <brook/stream_graph.h>

#include "checkpoint/checkpointing_options.h"
#include "common/configuration.h"
#include "runtime/restart_strategy.h"
#include "state/keyed_state_backend_factory.h"
#include "state/rocksdb_keyed_store.h"

namespace brook::runtime {

struct JobVertex {
  int id = -1;
  std::string name;               ///< the chain, "Source: File Source -> Flat Map"
  std::vector<int> chainedNodes;  ///< StreamNode ids, head first, in topological order
  int parallelism = 1;
  int maxParallelism = 128;
  bool isSource = false;
  std::vector<int> inputs;   ///< JobEdge ids
  std::vector<int> outputs;  ///< JobEdge ids
};

struct JobEdge {
  int id = -1;
  int sourceVertex = -1;
  int targetVertex = -1;
  int streamEdge = -1;  ///< index into the StreamGraph's edges
  PartitionerKind partitioner = PartitionerKind::kRebalance;
};

/// The state backend of a job's keyed operators, from `state.backend.type` and
/// `state.backend.rocksdb.*`.
struct StateBackendSettings {
  state::StateBackendType type = state::StateBackendType::kHeap;
  /// Used when `type` is kRocksDb: the resources of each operator instance's store.
  state::RocksDbKeyedStore::Options rocksDb;
};

/// A planned job. It refers to the environment's StreamGraph for operator factories, so the
/// environment must outlive it.
struct JobGraph {
  std::string jobName;
  const StreamGraph* streamGraph = nullptr;
  std::vector<JobVertex> vertices;
  std::vector<JobEdge> edges;
  std::vector<int> nodeToVertex;         ///< StreamNode id -> JobVertex id
  std::vector<std::string> operatorIds;  ///< per StreamNode: uid or one derived from the shape
  RuntimeMode mode = RuntimeMode::kStreaming;  ///< resolved: STREAMING or BATCH
  int64_t bufferTimeoutMillis = 100;
  /// `pipeline.auto-watermark-interval`: the period of watermark generators; 0 disables it.
  int64_t autoWatermarkIntervalMillis = 200;
  int bufferSize = 32 * 1024;
  int buffersPerChannel = 2;
  int floatingBuffersPerGate = 16;
  StateBackendSettings stateBackend;
  /// `execution.checkpointing.*`, `state.checkpoints.*`: off (interval 0) in BATCH mode.
  checkpoint::CheckpointingOptions checkpointing;
  /// `execution.savepoint.*`: the savepoint or checkpoint the job starts from, if any.
  checkpoint::SavepointRestoreSettings savepointRestore;
  /// `restart-strategy.*`: what the job does when a task fails.
  RestartStrategySettings restartStrategy;
  /// The first of `io.tmp.dirs` of the planning configuration: where an in-process execution
  /// (MiniCluster) keeps local files such as RocksDB state. TaskManagers use their own folder.
  std::string temporaryDirectory;

  /// The graph as JSON: mode, state backend, vertices (operators, parallelism), edges
  /// (partitioning).
  std::string toJson() const;
  /// A hash of everything that must match between two plannings of the same job.
  std::string fingerprint() const;
};

/// Plans `env`'s StreamGraph with `config` (`parallelism.default`, `pipeline.max-parallelism`,
/// `execution.runtime-mode`, `execution.buffer-timeout.interval`,
/// `pipeline.auto-watermark-interval`, network settings,
/// `state.backend.type` and `state.backend.rocksdb.*`, the checkpointing options,
/// `io.tmp.dirs`); settings made in the
/// job's code win. Errors name the operator or configuration key at fault.
absl::StatusOr<JobGraph> buildJobGraph(const StreamExecutionEnvironment& env,
                                       const Configuration& config,
                                       const std::string& jobName);

}  // namespace brook::runtime
