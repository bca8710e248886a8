#pragma once

/// The entry point of a job definition: sources, job-wide settings, and the StreamGraph that
/// the transformations build.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <brook/functions.h>
#include <brook/sources.h>
#include <brook/stream_graph.h>
#include <brook/watermark_strategy.h>

namespace brook {

template <typename T>
class DataStream;

class StreamExecutionEnvironment {
 public:
  /// `config` holds the job's configuration (`-D key=value` and conf/brook.yaml) so that a job
  /// may read it; settings made through this class's setters take precedence.
  explicit StreamExecutionEnvironment(std::map<std::string, std::string> config = {});

  StreamExecutionEnvironment(const StreamExecutionEnvironment&) = delete;
  StreamExecutionEnvironment& operator=(const StreamExecutionEnvironment&) = delete;

  /// The default parallelism of operators that set none; throws JobDefinitionError if < 1.
  StreamExecutionEnvironment& setParallelism(int parallelism);
  /// The number of key groups, the upper bound of any later rescaling (default 128).
  StreamExecutionEnvironment& setMaxParallelism(int maxParallelism);
  StreamExecutionEnvironment& setRuntimeMode(RuntimeMode mode);
  /// Milliseconds after which a partly filled network buffer is sent; 0 flushes every record.
  StreamExecutionEnvironment& setBufferTimeout(int64_t millis);

  std::optional<int> parallelism() const { return parallelism_; }
  std::optional<int> maxParallelism() const { return maxParallelism_; }
  std::optional<RuntimeMode> runtimeMode() const { return runtimeMode_; }
  std::optional<int64_t> bufferTimeout() const { return bufferTimeout_; }
  const std::map<std::string, std::string>& config() const { return config_; }

  /// A non-parallel source of the given elements.
  template <typename T>
  DataStream<T> fromCollection(std::vector<T> elements);
  template <typename T, typename... Ts>
  DataStream<T> fromElements(T first, Ts... rest) {
    return fromCollection<T>(std::vector<T>{std::move(first), T(std::move(rest))...});
  }
  /// The numbers from..to (inclusive), split evenly across parallel subtasks; bounded.
  DataStream<int64_t> fromSequence(int64_t from, int64_t to);
  /// The lines of a file, or of the files of a directory, read in parallel; bounded. Throws
  /// JobDefinitionError if the path does not exist.
  DataStream<std::string> readTextFile(const std::string& path);
  /// Lines from a TCP server; non-parallel and unbounded (ends when the server closes).
  DataStream<std::string> socketTextStream(const std::string& host,
                                           int port,
                                           char delimiter = '\n');

  /// A source from a reader factory (one reader per subtask).
  template <typename T>
  DataStream<T> fromSource(std::function<std::unique_ptr<SourceReader<T>>()> createReader,
                           std::string name,
                           bool bounded,
                           bool parallel = true);
  /// A source whose subtasks each run `strategy` on what their reader emits: timestamps,
  /// watermarks and idleness per source subtask. Throws JobDefinitionError naming the source on
  /// invalid durations.
  template <typename T>
  DataStream<T> fromSource(std::function<std::unique_ptr<SourceReader<T>>()> createReader,
                           WatermarkStrategy<T> strategy,
                           std::string name,
                           bool bounded,
                           bool parallel = true);

  StreamGraph& streamGraph() { return graph_; }
  const StreamGraph& streamGraph() const { return graph_; }

  int addNode(StreamNode node);
  int addEdge(StreamEdge edge);

 private:
  std::map<std::string, std::string> config_;
  std::optional<int> parallelism_;
  std::optional<int> maxParallelism_;
  std::optional<RuntimeMode> runtimeMode_;
  std::optional<int64_t> bufferTimeout_;
  StreamGraph graph_;
};

}  // namespace brook

#include <brook/data_stream.h>  // IWYU pragma: export
