#pragma once

/// The StreamGraph: the type-erased plan that the DataStream API builds and the runtime turns
/// into a JobGraph. Nodes carry operator factories; edges carry their partitioning and the
/// factory of the typed network output for their record type.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <brook/operator.h>

namespace brook {

enum class PartitionerKind {
  kDefault,  ///< forward when parallelism matches, else rebalance
  kForward,
  kRebalance,
  kRescale,
  kShuffle,
  kBroadcast,
  kGlobal,
  kKeyGroup,
  kCustom,
};

const char* partitionerName(PartitionerKind kind);

/// Operations on one record type that the runtime needs without knowing the type.
struct RecordType {
  std::string name;
  std::function<std::unique_ptr<OutputBase>(std::vector<OutputBase*>)> makeFanOut;
  std::function<std::unique_ptr<RecordDeserializer>(OutputBase* target)> makeDeserializer;
  std::function<std::unique_ptr<OutputBase>()> makeDiscarding;
};

struct StreamEdge {
  int sourceId = -1;
  int targetId = -1;
  int targetInput = 1;  ///< which input of the target: 1, or 2 for two-input operators
  std::string sideOutputTag;  ///< empty: the main output
  PartitionerKind partitioner = PartitionerKind::kDefault;
  std::shared_ptr<const RecordType> recordType;
  /// Creates the serializing output of this edge over a runtime writer.
  std::function<std::unique_ptr<OutputBase>(RecordWriter*)> makeNetworkOutput;
};

struct StreamNode {
  int id = -1;
  std::string operatorKind;  ///< "Source", "Map", "Keyed Reduce", "Sink", ...
  std::string name;
  std::string uid;          ///< user-set stable id; empty: derived from the graph's shape
  int parallelism = -1;     ///< -1: the job's default
  int maxParallelism = -1;  ///< -1: the job's
  bool isSource = false;
  bool isBounded = true;          ///< sources only
  bool fixedParallelism = false;  ///< non-parallel sources: always 1
  std::function<std::unique_ptr<StreamOperator>()> factory;
  std::shared_ptr<const RecordType> outputType;  ///< null for sinks
  std::vector<int> inEdges;
  std::vector<int> outEdges;
};

/// Nodes and edges in creation order, which is topological: an edge always points from an
/// earlier node to a later one.
struct StreamGraph {
  std::vector<StreamNode> nodes;
  std::vector<StreamEdge> edges;
};

}  // namespace brook
