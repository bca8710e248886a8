#pragma once

/// User-function building blocks: the runtime context, rich functions, collectors, output tags
/// and job arguments.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace brook {

namespace internal {
class KeyedStateBackend;
}  // namespace internal
class ProcessingTimeService;
class OperatorStateStore;
template <typename T>
class ValueState;
template <typename T>
class ValueStateDescriptor;
template <typename T>
class ListState;
template <typename T>
class ListStateDescriptor;
template <typename K, typename V>
class MapState;
template <typename K, typename V>
class MapStateDescriptor;
template <typename T>
class ReducingState;
template <typename T>
class ReducingStateDescriptor;
template <typename IN, typename OUT>
class AggregatingState;
template <typename IN, typename ACC, typename OUT>
class AggregatingStateDescriptor;

/// How a job executes: STREAMING emits every update, BATCH emits final results only.
/// AUTOMATIC picks BATCH when every source is bounded.
enum class RuntimeMode { kStreaming, kBatch, kAutomatic };

/// Parses "STREAMING", "BATCH" or "AUTOMATIC" (any case); throws std::invalid_argument.
RuntimeMode parseRuntimeMode(const std::string& text);
const char* runtimeModeName(RuntimeMode mode);

/// A user's job definition broke a rule of the API (bad parallelism, missing argument, ...).
/// Raised while the graph is planned, so it reaches the user before anything runs.
class JobDefinitionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The job's arguments, `--key value` pairs and `--flag`s after `--` on the command line,
/// as Flink's ParameterTool reads them.
class JobArgs {
 public:
  JobArgs() = default;
  /// Parses `--key value`, `--key=value` and bare `--flag` (value "true"); throws
  /// JobDefinitionError on an argument that does not start with `-`.
  static JobArgs parse(const std::vector<std::string>& argv);

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  /// Returns the value of a required argument; throws JobDefinitionError naming it if absent.
  const std::string& get(const std::string& key) const;
  std::string get(const std::string& key, const std::string& fallback) const;
  int64_t getInt(const std::string& key, int64_t fallback) const;

  const std::vector<std::string>& raw() const { return raw_; }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::vector<std::string> raw_;
  std::map<std::string, std::string> values_;
};

/// What a running function may know about where it runs.
struct RuntimeContext {
  std::string jobName;
  std::string taskName;      ///< the chained task, e.g. "Source: text -> Flat Map"
  std::string operatorName;  ///< this operator's name
  int subtaskIndex = 0;
  int parallelism = 1;
  int maxParallelism = 128;
  int attemptNumber = 0;
  RuntimeMode mode = RuntimeMode::kStreaming;  ///< resolved: STREAMING or BATCH
  const JobArgs* args = nullptr;
  /// The keyed state of this operator instance; null unless the operator runs on a keyed
  /// stream.
  internal::KeyedStateBackend* keyedStateBackend = nullptr;
  /// The operator (non-keyed) state of this operator instance.
  OperatorStateStore* operatorStateStore = nullptr;
  /// The task's processing-time clock and timers.
  ProcessingTimeService* processingTimeService = nullptr;
  /// Milliseconds between periodic watermark emissions (`pipeline.auto-watermark-interval`);
  /// 0 disables them.
  int64_t autoWatermarkIntervalMillis = 200;
  /// Whether the job takes checkpoints (`execution.checkpointing.interval` is set): operators
  /// that hold output back until a checkpoint completes (exactly-once sinks) rely on it.
  bool checkpointingEnabled = false;
  /// Whether this operator instance started from a checkpoint or savepoint that held state
  /// for its uid (Flink's isRestored): its restored state, if any, is in place before `open`.
  bool restored = false;

  /// Keyed state (include <brook/state.h>): the state called `descriptor.name()` of this
  /// operator, created on first use. Throws StateException on a stream that is not keyed, or
  /// when the name is already used by a state of another type.
  template <typename T>
  ValueState<T>& getState(const ValueStateDescriptor<T>& descriptor) const;
  template <typename T>
  ListState<T>& getListState(const ListStateDescriptor<T>& descriptor) const;
  template <typename K, typename V>
  MapState<K, V>& getMapState(const MapStateDescriptor<K, V>& descriptor) const;
  template <typename T>
  ReducingState<T>& getReducingState(const ReducingStateDescriptor<T>& descriptor) const;
  template <typename IN, typename ACC, typename OUT>
  AggregatingState<IN, OUT>& getAggregatingState(
      const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) const;

  /// Operator state (include <brook/operator_state_store.h>): list, union list and broadcast
  /// state of this operator instance.
  OperatorStateStore& getOperatorStateStore() const;

  /// The keyed state backend; throws StateException naming `stateName` when there is none.
  internal::KeyedStateBackend& keyedBackend(const char* stateKind,
                                            const std::string& stateName) const;

  /// "name (i/n)" with i counted from 1, as Flink prints subtasks.
  std::string subtaskDescription() const {
    return operatorName + " (" + std::to_string(subtaskIndex + 1) + "/" +
           std::to_string(parallelism) + ")";
  }
};

/// Base of functions with a life cycle: `open` runs once per subtask before the first
/// record, `close` after the last.
class RichFunction {
 public:
  virtual ~RichFunction() = default;
  virtual void open(const RuntimeContext& context) { (void)context; }
  virtual void close() {}

  void setRuntimeContext(const RuntimeContext* context) { runtimeContext_ = context; }
  const RuntimeContext& getRuntimeContext() const { return *runtimeContext_; }

 private:
  const RuntimeContext* runtimeContext_ = nullptr;
};

/// Receives the records a flatMap or process function emits.
template <typename T>
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(T&& record) = 0;
  void collect(const T& record) {
    T copy(record);
    collect(std::move(copy));
  }
};

/// Names a side output of type `T`; tags are equal when their ids are.
template <typename T>
class OutputTag {
 public:
  explicit OutputTag(std::string id) : id_(std::move(id)) {}
  const std::string& id() const { return id_; }

 private:
  std::string id_;
};

template <typename IN, typename OUT>
class RichMapFunction : public RichFunction {
 public:
  virtual OUT map(IN value) = 0;
};

template <typename IN, typename OUT>
class RichFlatMapFunction : public RichFunction {
 public:
  virtual void flatMap(IN value, Collector<OUT>& out) = 0;
};

template <typename T>
class RichFilterFunction : public RichFunction {
 public:
  virtual bool filter(const T& value) = 0;
};

}  // namespace brook
