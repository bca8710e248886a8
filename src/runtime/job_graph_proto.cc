#include "runtime/job_graph_proto.h"

#include <absl/strings/str_cat.h>

namespace brook::runtime {

namespace {

v1::Partitioner toProto(PartitionerKind kind) {
  switch (kind) {
    case PartitionerKind::kForward:
      return v1::PARTITIONER_FORWARD;
    case PartitionerKind::kRebalance:
      return v1::PARTITIONER_REBALANCE;
    case PartitionerKind::kRescale:
      return v1::PARTITIONER_RESCALE;
    case PartitionerKind::kShuffle:
      return v1::PARTITIONER_SHUFFLE;
    case PartitionerKind::kBroadcast:
      return v1::PARTITIONER_BROADCAST;
    case PartitionerKind::kGlobal:
      return v1::PARTITIONER_GLOBAL;
    case PartitionerKind::kKeyGroup:
      return v1::PARTITIONER_KEY_GROUP;
    case PartitionerKind::kCustom:
      return v1::PARTITIONER_CUSTOM;
    case PartitionerKind::kDefault:
      break;
  }
  return v1::PARTITIONER_UNSPECIFIED;
}

}  // namespace

v1::JobGraph toProto(const JobGraph& graph, const JobArgs& args, const Configuration& config) {
  v1::JobGraph proto;
  proto.set_protocol_version(kProtocolVersion);
  proto.set_job_name(graph.jobName);
  proto.set_fingerprint(graph.fingerprint());
  proto.set_mode(graph.mode == RuntimeMode::kBatch ? v1::RUNTIME_MODE_BATCH
                                                   : v1::RUNTIME_MODE_STREAMING);
  proto.set_buffer_timeout_millis(graph.bufferTimeoutMillis);
  proto.set_buffer_size(graph.bufferSize);
  proto.set_buffers_per_channel(graph.buffersPerChannel);
  proto.set_floating_buffers_per_gate(graph.floatingBuffersPerGate);
  const StreamGraph& sg = *graph.streamGraph;
  for (const JobVertex& v : graph.vertices) {
    v1::JobVertex* pv = proto.add_vertices();
    pv->set_id(v.id);
    pv->set_name(v.name);
    pv->set_parallelism(v.parallelism);
    pv->set_max_parallelism(v.maxParallelism);
    pv->set_is_source(v.isSource);
    for (int nodeId : v.chainedNodes) {
      const StreamNode& n = sg.nodes[static_cast<size_t>(nodeId)];
      v1::Operator* op = pv->add_operators();
      op->set_node_id(nodeId);
      op->set_operator_id(graph.operatorIds[static_cast<size_t>(nodeId)]);
      op->set_kind(n.operatorKind);
      op->set_name(n.name);
      if (n.outputType)
        op->set_output_type(n.outputType->name);
    }
    for (int e : v.inputs)
      pv->add_inputs(e);
    for (int e : v.outputs)
      pv->add_outputs(e);
  }
  for (const JobEdge& e : graph.edges) {
    const StreamEdge& se = sg.edges[static_cast<size_t>(e.streamEdge)];
    v1::JobEdge* pe = proto.add_edges();
    pe->set_id(e.id);
    pe->set_source_vertex(e.sourceVertex);
    pe->set_target_vertex(e.targetVertex);
    pe->set_stream_edge(e.streamEdge);
    pe->set_partitioner(toProto(e.partitioner));
    if (se.recordType)
      pe->set_record_type(se.recordType->name);
    pe->set_side_output_tag(se.sideOutputTag);
  }
  for (const auto& a : args.raw())
    proto.add_job_arguments(a);
  for (const auto& [k, v] : config.values())
    (*proto.mutable_configuration())[k] = v;
  return proto;
}

absl::Status validateJobGraphProto(const v1::JobGraph& proto) {
  if (proto.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat("job graph uses protocol version ",
                                                      proto.protocol_version(),
                                                      ", this process speaks ", kProtocolVersion));
  }
  const int vertices = proto.vertices_size();
  const int edges = proto.edges_size();
  if (vertices == 0)
    return absl::InvalidArgumentError("job graph has no vertices");
  for (int i = 0; i < vertices; ++i) {
    const v1::JobVertex& v = proto.vertices(i);
    if (v.id() != i) {
      return absl::InvalidArgumentError(absl::StrCat("job graph vertex ", i, " has id ", v.id()));
    }
    if (v.parallelism() < 1 || v.parallelism() > v.max_parallelism()) {
      return absl::InvalidArgumentError(absl::StrCat("job graph vertex ", i, " ('", v.name(),
                                                     "') has parallelism ", v.parallelism(),
                                                     " and max parallelism ", v.max_parallelism()));
    }
    if (v.operators_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("job graph vertex ", i, " has no operators"));
    }
    for (int e : v.inputs()) {
      if (e < 0 || e >= edges || proto.edges(e).target_vertex() != i) {
        return absl::InvalidArgumentError(absl::StrCat("job graph vertex ", i, " lists input edge ",
                                                       e, " that does not end there"));
      }
    }
    for (int e : v.outputs()) {
      if (e < 0 || e >= edges || proto.edges(e).source_vertex() != i) {
        return absl::InvalidArgumentError(absl::StrCat(
            "job graph vertex ", i, " lists output edge ", e, " that does not start there"));
      }
    }
  }
  for (int i = 0; i < edges; ++i) {
    const v1::JobEdge& e = proto.edges(i);
    if (e.id() != i || e.source_vertex() < 0 || e.source_vertex() >= vertices ||
        e.target_vertex() < 0 || e.target_vertex() >= vertices ||
        e.source_vertex() == e.target_vertex()) {
      return absl::InvalidArgumentError(absl::StrCat("job graph edge ", i, " connects vertex ",
                                                     e.source_vertex(), " to vertex ",
                                                     e.target_vertex(), " of ", vertices));
    }
    if (e.partitioner() == v1::PARTITIONER_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("job graph edge ", i, " has no partitioner"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::JobGraph> parseJobGraphProto(const std::string& bytes) {
  v1::JobGraph proto;
  if (!proto.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("job graph message of ", bytes.size(), " bytes cannot be decoded"));
  }
  if (auto s = validateJobGraphProto(proto); !s.ok())
    return s;
  return proto;
}

absl::Status checkPlanMatches(const v1::JobGraph& submitted, const JobGraph& planned) {
  std::string mine = planned.fingerprint();
  if (submitted.fingerprint() != mine) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", submitted.job_name(), "' planned here has fingerprint ", mine,
        " but was submitted with ", submitted.fingerprint(),
        ": the job library or its arguments differ, or the job's graph is not deterministic"));
  }
  return absl::OkStatus();
}

}  // namespace brook::runtime
