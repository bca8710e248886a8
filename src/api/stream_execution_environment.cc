#include <cxxabi.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include <brook/data_stream.h>
#include <brook/stream_execution_environment.h>

namespace brook {

namespace internal {
std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

void throwJobDefinitionError(const std::string& message) {
  throw JobDefinitionError(message);
}
}  // namespace internal

const char* partitionerName(PartitionerKind kind) {
  switch (kind) {
    case PartitionerKind::kDefault:
      return "DEFAULT";
    case PartitionerKind::kForward:
      return "FORWARD";
    case PartitionerKind::kRebalance:
      return "REBALANCE";
    case PartitionerKind::kRescale:
      return "RESCALE";
    case PartitionerKind::kShuffle:
      return "SHUFFLE";
    case PartitionerKind::kBroadcast:
      return "BROADCAST";
    case PartitionerKind::kGlobal:
      return "GLOBAL";
    case PartitionerKind::kKeyGroup:
      return "HASH";
    case PartitionerKind::kCustom:
      return "CUSTOM";
  }
  return "UNKNOWN";
}

StreamExecutionEnvironment::StreamExecutionEnvironment(std::map<std::string, std::string> config)
    : config_(std::move(config)) {}

StreamExecutionEnvironment& StreamExecutionEnvironment::setParallelism(int parallelism) {
  if (parallelism < 1) {
    throw JobDefinitionError("default parallelism must be >= 1, got " +
                             std::to_string(parallelism));
  }
  parallelism_ = parallelism;
  return *this;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setMaxParallelism(int maxParallelism) {
  if (maxParallelism < 1 || maxParallelism > 32768) {
    throw JobDefinitionError("max parallelism must be in [1, 32768], got " +
                             std::to_string(maxParallelism));
  }
  maxParallelism_ = maxParallelism;
  return *this;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setRuntimeMode(RuntimeMode mode) {
  runtimeMode_ = mode;
  return *this;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setBufferTimeout(int64_t millis) {
  if (millis < 0) {
    throw JobDefinitionError("buffer timeout must be >= 0 ms, got " + std::to_string(millis));
  }
  bufferTimeout_ = millis;
  return *this;
}

int StreamExecutionEnvironment::addNode(StreamNode node) {
  node.id = static_cast<int>(graph_.nodes.size());
  graph_.nodes.push_back(std::move(node));
  return graph_.nodes.back().id;
}

int StreamExecutionEnvironment::addEdge(StreamEdge edge) {
  int id = static_cast<int>(graph_.edges.size());
  if (edge.sourceId < 0 || edge.sourceId >= static_cast<int>(graph_.nodes.size()) ||
      edge.targetId <= edge.sourceId || edge.targetId >= static_cast<int>(graph_.nodes.size())) {
    throw JobDefinitionError("edge between unknown operators " + std::to_string(edge.sourceId) +
                             " -> " + std::to_string(edge.targetId));
  }
  graph_.nodes[edge.sourceId].outEdges.push_back(id);
  graph_.nodes[edge.targetId].inEdges.push_back(id);
  graph_.edges.push_back(std::move(edge));
  return id;
}

DataStream<int64_t> StreamExecutionEnvironment::fromSequence(int64_t from, int64_t to) {
  if (to < from) {
    throw JobDefinitionError("fromSequence: 'to' (" + std::to_string(to) +
                             ") must not be below 'from' (" + std::to_string(from) + ")");
  }
  return fromSource<int64_t>(
      [from, to] { return std::make_unique<SequenceSourceReader>(from, to); }, "Sequence Source",
      /*bounded=*/true);
}

DataStream<std::string> StreamExecutionEnvironment::readTextFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw JobDefinitionError("readTextFile: input path '" + path + "' does not exist");
  }
  return fromSource<std::string>([path] { return std::make_unique<TextFileSourceReader>(path); },
                                 "File Source",
                                 /*bounded=*/true);
}

DataStream<std::string> StreamExecutionEnvironment::socketTextStream(const std::string& host,
                                                                     int port,
                                                                     char delimiter) {
  if (port <= 0 || port > 65535) {
    throw JobDefinitionError("socketTextStream: port must be in [1, 65535], got " +
                             std::to_string(port));
  }
  return fromSource<std::string>(
      [host, port, delimiter] {
        return std::make_unique<SocketTextSourceReader>(host, port, delimiter);
      },
      "Socket Stream", /*bounded=*/false, /*parallel=*/false);
}

DataStreamSink& DataStreamSink::setParallelism(int parallelism) {
  if (parallelism < 1) {
    throw JobDefinitionError("sink parallelism must be >= 1, got " + std::to_string(parallelism));
  }
  env_->streamGraph().nodes.at(nodeId_).parallelism = parallelism;
  return *this;
}

DataStreamSink& DataStreamSink::name(std::string name) {
  env_->streamGraph().nodes.at(nodeId_).name = std::move(name);
  return *this;
}

DataStreamSink& DataStreamSink::uid(std::string uid) {
  env_->streamGraph().nodes.at(nodeId_).uid = std::move(uid);
  return *this;
}

}  // namespace brook
