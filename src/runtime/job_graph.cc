#include "runtime/job_graph.h"

#include <thread>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include "state/key_group.h"

namespace brook::runtime {

namespace {

std::string jsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<JobGraph> buildJobGraph(const StreamExecutionEnvironment& env,
                                       const Configuration& config,
                                       const std::string& jobName) {
  const StreamGraph& sg = env.streamGraph();
  JobGraph jg;
  jg.jobName = jobName;
  jg.streamGraph = &sg;
  if (sg.nodes.empty()) {
    return absl::InvalidArgumentError("the job defines no operators");
  }

  // Job-wide settings: code first, then configuration, then defaults.
  int defaultParallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto p = config.getInt(config_keys::kParallelismDefault, defaultParallelism);
  if (!p.ok())
    return p.status();
  if (*p < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kParallelismDefault, " must be >= 1, got ", *p));
  }
  int parallelism = env.parallelism().value_or(static_cast<int>(*p));
  auto mp = config.getInt(config_keys::kMaxParallelism, 128);
  if (!mp.ok())
    return mp.status();
  if (*mp < 1 || *mp > 32768) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_keys::kMaxParallelism, " must be in [1, 32768], got ", *mp));
  }
  int maxParallelism = env.maxParallelism().value_or(static_cast<int>(*mp));

  RuntimeMode mode = RuntimeMode::kStreaming;
  if (env.runtimeMode()) {
    mode = *env.runtimeMode();
  } else if (config.contains(config_keys::kRuntimeMode)) {
    try {
      mode = parseRuntimeMode(config.getString(config_keys::kRuntimeMode, ""));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
  if (mode == RuntimeMode::kAutomatic) {
    bool allBounded = true;
    for (const auto& n : sg.nodes) {
      if (n.isSource && !n.isBounded)
        allBounded = false;
    }
    mode = allBounded ? RuntimeMode::kBatch : RuntimeMode::kStreaming;
  }
  if (mode == RuntimeMode::kBatch) {
    for (const auto& n : sg.nodes) {
      if (n.isSource && !n.isBounded) {
        return absl::InvalidArgumentError(absl::StrCat(
            "BATCH runtime mode needs bounded sources, but '", n.name, "' is unbounded"));
      }
    }
  }
  jg.mode = mode;

  std::string timeoutKey = config.contains(config_keys::kBufferTimeout)
                               ? config_keys::kBufferTimeout
                               : config_keys::kBufferTimeoutLegacy;
  auto timeout = config.getDurationMillis(timeoutKey, 100);
  if (!timeout.ok())
    return timeout.status();
  jg.bufferTimeoutMillis = env.bufferTimeout().value_or(*timeout);
  auto watermarkInterval = config.getDurationMillis(config_keys::kAutoWatermarkInterval, 200);
  if (!watermarkInterval.ok())
    return watermarkInterval.status();
  if (*watermarkInterval < 0) {
    return absl::InvalidArgumentError(absl::StrCat(config_keys::kAutoWatermarkInterval,
                                                   " must be >= 0, got ", *watermarkInterval));
  }
  jg.autoWatermarkIntervalMillis = *watermarkInterval;
  const char* bufferSizeKey = networkBufferSizeKey(config);
  auto segment = config.getBytes(bufferSizeKey, 32 * 1024);
  if (!segment.ok())
    return segment.status();
  if (*segment < 4096 || *segment > (64 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat(bufferSizeKey, " must be between 4kb and 64mb, got ", *segment));
  }
  jg.bufferSize = static_cast<int>(*segment);
  auto perChannel = config.getInt(config_keys::kBuffersPerChannel, 2);
  if (!perChannel.ok())
    return perChannel.status();
  auto floating = config.getInt(config_keys::kFloatingBuffers, 16);
  if (!floating.ok())
    return floating.status();
  if (*perChannel < 1 || *floating < 0) {
    return absl::InvalidArgumentError("network buffer counts must be positive");
  }
  jg.buffersPerChannel = static_cast<int>(*perChannel);
  jg.floatingBuffersPerGate = static_cast<int>(*floating);

  jg.stateBackend.type = state::StateBackendType::kHeap;
  if (config.contains(config_keys::kStateBackendType)) {
    auto type = state::parseStateBackendType(config.getString(config_keys::kStateBackendType, ""));
    if (!type.ok())
      return type.status();
    jg.stateBackend.type = *type;
  }
  auto rocksDb = state::RocksDbKeyedStore::Options::fromConfiguration(config);
  if (!rocksDb.ok())
    return rocksDb.status();
  jg.stateBackend.rocksDb = *rocksDb;
  auto checkpointing = checkpoint::checkpointingOptionsFrom(config);
  if (!checkpointing.ok())
    return checkpointing.status();
  jg.checkpointing = *std::move(checkpointing);
  if (jg.mode == RuntimeMode::kBatch)
    jg.checkpointing.intervalMillis = 0;  // as in Flink, BATCH jobs do not checkpoint
  auto savepointRestore = checkpoint::savepointRestoreSettingsFrom(config);
  if (!savepointRestore.ok())
    return savepointRestore.status();
  jg.savepointRestore = *std::move(savepointRestore);
  auto restartStrategy = restartStrategySettingsFrom(config, jg.checkpointing.enabled());
  if (!restartStrategy.ok())
    return restartStrategy.status();
  jg.restartStrategy = *restartStrategy;
  jg.temporaryDirectory = temporaryDirectory(config);

  // Resolve each node's parallelism.
  std::vector<int> nodeParallelism(sg.nodes.size());
  std::vector<int> nodeMaxParallelism(sg.nodes.size());
  for (const auto& n : sg.nodes) {
    int np = n.parallelism > 0 ? n.parallelism : (n.fixedParallelism ? 1 : parallelism);
    int nmp = n.maxParallelism > 0 ? n.maxParallelism : maxParallelism;
    if (np > nmp) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", n.name, "' has parallelism ", np,
                                                     " above its max parallelism ", nmp));
    }
    if (!n.isSource && n.inEdges.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", n.name, "' has no input"));
    }
    nodeParallelism[static_cast<size_t>(n.id)] = np;
    nodeMaxParallelism[static_cast<size_t>(n.id)] = nmp;
  }

  // Resolve partitioners and decide chaining.
  std::vector<PartitionerKind> edgePartitioner(sg.edges.size());
  for (size_t e = 0; e < sg.edges.size(); ++e) {
    const StreamEdge& edge = sg.edges[e];
    int up = nodeParallelism[static_cast<size_t>(edge.sourceId)];
    int down = nodeParallelism[static_cast<size_t>(edge.targetId)];
    PartitionerKind kind = edge.partitioner;
    if (kind == PartitionerKind::kDefault) {
      kind = up == down ? PartitionerKind::kForward : PartitionerKind::kRebalance;
    }
    if (kind == PartitionerKind::kForward && up != down) {
      return absl::InvalidArgumentError(
          absl::StrCat("forward partitioning does not allow a change of parallelism: '",
                       sg.nodes[static_cast<size_t>(edge.sourceId)].name, "' has ", up, ", '",
                       sg.nodes[static_cast<size_t>(edge.targetId)].name, "' has ", down));
    }
    edgePartitioner[e] = kind;
  }

  jg.nodeToVertex.assign(sg.nodes.size(), -1);
  for (const auto& n : sg.nodes) {
    bool chain = false;
    if (!n.isSource && n.inEdges.size() == 1) {
      const StreamEdge& in = sg.edges[static_cast<size_t>(n.inEdges[0])];
      chain = edgePartitioner[static_cast<size_t>(n.inEdges[0])] == PartitionerKind::kForward &&
              nodeMaxParallelism[static_cast<size_t>(in.sourceId)] ==
                  nodeMaxParallelism[static_cast<size_t>(n.id)];
    }
    if (chain) {
      int v = jg.nodeToVertex[static_cast<size_t>(
          sg.edges[static_cast<size_t>(n.inEdges[0])].sourceId)];
      jg.nodeToVertex[static_cast<size_t>(n.id)] = v;
      JobVertex& vertex = jg.vertices[static_cast<size_t>(v)];
      vertex.chainedNodes.push_back(n.id);
      vertex.name += " -> " + n.name;
    } else {
      JobVertex vertex;
      vertex.id = static_cast<int>(jg.vertices.size());
      vertex.name = n.name;
      vertex.chainedNodes.push_back(n.id);
      vertex.parallelism = nodeParallelism[static_cast<size_t>(n.id)];
      vertex.maxParallelism = nodeMaxParallelism[static_cast<size_t>(n.id)];
      vertex.isSource = n.isSource;
      jg.nodeToVertex[static_cast<size_t>(n.id)] = vertex.id;
      jg.vertices.push_back(std::move(vertex));
    }
  }

  for (size_t e = 0; e < sg.edges.size(); ++e) {
    const StreamEdge& edge = sg.edges[e];
    int sv = jg.nodeToVertex[static_cast<size_t>(edge.sourceId)];
    int tv = jg.nodeToVertex[static_cast<size_t>(edge.targetId)];
    if (sv == tv)
      continue;  // chained
    JobEdge je;
    je.id = static_cast<int>(jg.edges.size());
    je.sourceVertex = sv;
    je.targetVertex = tv;
    je.streamEdge = static_cast<int>(e);
    je.partitioner = edgePartitioner[e];
    jg.vertices[static_cast<size_t>(sv)].outputs.push_back(je.id);
    jg.vertices[static_cast<size_t>(tv)].inputs.push_back(je.id);
    jg.edges.push_back(je);
  }

  // Operator ids: the user's uid, or a hash of the node's kind and its inputs' ids.
  jg.operatorIds.resize(sg.nodes.size());
  for (const auto& n : sg.nodes) {
    if (!n.uid.empty()) {
      jg.operatorIds[static_cast<size_t>(n.id)] = n.uid;
      continue;
    }
    std::string shape = absl::StrCat(n.operatorKind, "#", n.id);
    for (int e : n.inEdges) {
      absl::StrAppend(
          &shape, "<",
          jg.operatorIds[static_cast<size_t>(sg.edges[static_cast<size_t>(e)].sourceId)]);
    }
    jg.operatorIds[static_cast<size_t>(n.id)] =
        absl::StrFormat("%016x", state::hashKeyBytes(shape));
  }
  for (size_t i = 0; i < sg.nodes.size(); ++i) {
    for (size_t j = i + 1; j < sg.nodes.size(); ++j) {
      if (jg.operatorIds[i] == jg.operatorIds[j]) {
        return absl::InvalidArgumentError(
            absl::StrCat("uid '", jg.operatorIds[i], "' is used by two operators: '",
                         sg.nodes[i].name, "' and '", sg.nodes[j].name, "'"));
      }
    }
  }
  return jg;
}

std::string JobGraph::toJson() const {
  std::string out =
      absl::StrCat("{\n  \"job\": \"", jsonEscape(jobName), "\",\n  \"mode\": \"",
                   runtimeModeName(mode), "\",\n  \"stateBackend\": \"",
                   state::stateBackendTypeName(stateBackend.type), "\",\n  \"vertices\": [");
  for (size_t v = 0; v < vertices.size(); ++v) {
    const JobVertex& vertex = vertices[v];
    absl::StrAppend(&out, v == 0 ? "\n" : ",\n", "    {\"id\": ", vertex.id, ", \"name\": \"",
                    jsonEscape(vertex.name), "\", \"parallelism\": ", vertex.parallelism,
                    ", \"maxParallelism\": ", vertex.maxParallelism, ", \"operators\": [");
    for (size_t i = 0; i < vertex.chainedNodes.size(); ++i) {
      const StreamNode& n = streamGraph->nodes[static_cast<size_t>(vertex.chainedNodes[i])];
      absl::StrAppend(&out, i == 0 ? "" : ", ", "{\"id\": \"",
                      jsonEscape(operatorIds[static_cast<size_t>(n.id)]), "\", \"kind\": \"",
                      jsonEscape(n.operatorKind), "\", \"name\": \"", jsonEscape(n.name), "\"");
      if (n.outputType) {
        absl::StrAppend(&out, ", \"outputType\": \"", jsonEscape(n.outputType->name), "\"");
      }
      absl::StrAppend(&out, "}");
    }
    absl::StrAppend(&out, "]}");
  }
  absl::StrAppend(&out, "\n  ],\n  \"edges\": [");
  for (size_t e = 0; e < edges.size(); ++e) {
    const JobEdge& edge = edges[e];
    const StreamEdge& se = streamGraph->edges[static_cast<size_t>(edge.streamEdge)];
    absl::StrAppend(&out, e == 0 ? "\n" : ",\n", "    {\"source\": ", edge.sourceVertex,
                    ", \"target\": ", edge.targetVertex, ", \"partitioning\": \"",
                    partitionerName(edge.partitioner), "\", \"recordType\": \"",
                    jsonEscape(se.recordType ? se.recordType->name : ""), "\"");
    if (!se.sideOutputTag.empty()) {
      absl::StrAppend(&out, ", \"sideOutput\": \"", jsonEscape(se.sideOutputTag), "\"");
    }
    if (se.targetInput != 1)
      absl::StrAppend(&out, ", \"input\": ", se.targetInput);
    absl::StrAppend(&out, "}");
  }
  absl::StrAppend(&out, "\n  ]\n}\n");
  return out;
}

std::string JobGraph::fingerprint() const {
  return absl::StrFormat("%016x", state::hashKeyBytes(toJson()));
}

}  // namespace brook::runtime
