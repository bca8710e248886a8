#pragma once

/// DataStream<T> and KeyedStream<K, T>: the typed transformations of the DataStream API.
/// Each call adds a node to the environment's StreamGraph; nothing runs until the job is
/// submitted.

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <brook/functions.h>
#include <brook/internal/callable_traits.h>
#include <brook/internal/key_hash.h>
#include <brook/broadcast_process_function.h>
#include <brook/internal/keyed_process_operator.h>
#include <brook/internal/two_input_operators.h>
#include <brook/internal/operators.h>
#include <brook/operator.h>
#include <brook/process_function.h>
#include <brook/serializer.h>
#include <brook/file_sink.h>
#include <brook/sinks.h>
#include <brook/stream_execution_environment.h>
#include <brook/stream_graph.h>
#include <brook/internal/timestamps_and_watermarks_operator.h>
#include <brook/watermark_strategy.h>

namespace brook {

namespace internal {
std::string demangle(const char* mangled);

/// The type-erased operations of record type `T`, one shared instance per type.
template <typename T>
std::shared_ptr<const RecordType> recordTypeOf() {
  static_assert(requireSerializer<T>());
  static const std::shared_ptr<const RecordType> type = [] {
    auto t = std::make_shared<RecordType>();
    t->name = demangle(typeid(T).name());
    t->makeFanOut = [](std::vector<OutputBase*> outputs) -> std::unique_ptr<OutputBase> {
      std::vector<Output<T>*> typed;
      typed.reserve(outputs.size());
      for (auto* o : outputs)
        typed.push_back(static_cast<Output<T>*>(o));
      return std::make_unique<FanOutOutput<T>>(std::move(typed));
    };
    t->makeDeserializer = [](OutputBase* target) -> std::unique_ptr<RecordDeserializer> {
      return std::make_unique<TypedRecordDeserializer<T>>(static_cast<Output<T>*>(target));
    };
    t->makeDiscarding = []() -> std::unique_ptr<OutputBase> {
      return std::make_unique<DiscardingOutput<T>>();
    };
    return t;
  }();
  return type;
}

[[noreturn]] void throwJobDefinitionError(const std::string& message);
}  // namespace internal

template <typename K, typename T, typename KeySelector>
class KeyedStream;
template <typename A, typename B>
class ConnectedStreams;
template <typename A, typename B>
class BroadcastConnectedStream;
template <typename T>
class BroadcastStream;
template <typename T1, typename T2>
class CoGroupedStreams;
template <typename T1, typename T2>
class JoinedStreams;

/// The handle of a sink in the graph, to name it or set its parallelism.
class DataStreamSink {
 public:
  DataStreamSink(StreamExecutionEnvironment* env, int nodeId) : env_(env), nodeId_(nodeId) {}
  DataStreamSink& setParallelism(int parallelism);
  DataStreamSink& name(std::string name);
  DataStreamSink& uid(std::string uid);
  int id() const { return nodeId_; }

 private:
  StreamExecutionEnvironment* env_;
  int nodeId_;
};

template <typename T>
class DataStream {
  static_assert(internal::requireSerializer<T>());

 public:
  using ValueType = T;
  using NetworkOutputFactory = std::function<std::unique_ptr<OutputBase>(RecordWriter*)>;

  struct Upstream {
    int nodeId;
    std::string sideOutputTag;
  };

  DataStream(StreamExecutionEnvironment* env, int nodeId, std::string sideOutputTag = {})
      : env_(env), upstreams_{{nodeId, std::move(sideOutputTag)}} {}

  /// Sets the parallelism of the operator that produces this stream.
  DataStream& setParallelism(int parallelism) {
    StreamNode& n = node("setParallelism");
    if (parallelism < 1) {
      internal::throwJobDefinitionError("parallelism of '" + n.name + "' must be >= 1, got " +
                                        std::to_string(parallelism));
    }
    if (n.fixedParallelism && parallelism != 1) {
      internal::throwJobDefinitionError("'" + n.name +
                                        "' is non-parallel; its parallelism must be 1, got " +
                                        std::to_string(parallelism));
    }
    n.parallelism = parallelism;
    return *this;
  }
  DataStream& setMaxParallelism(int maxParallelism) {
    StreamNode& n = node("setMaxParallelism");
    if (maxParallelism < 1 || maxParallelism > 32768) {
      internal::throwJobDefinitionError("max parallelism of '" + n.name +
                                        "' must be in [1, 32768], got " +
                                        std::to_string(maxParallelism));
    }
    n.maxParallelism = maxParallelism;
    return *this;
  }
  DataStream& name(std::string name) {
    node("name").name = std::move(name);
    return *this;
  }
  /// A stable operator id: the key under which later versions find this operator's state.
  DataStream& uid(std::string uid) {
    node("uid").uid = std::move(uid);
    return *this;
  }
  int id() const { return upstreams_.front().nodeId; }
  StreamExecutionEnvironment& environment() const { return *env_; }

  // Partitioning of the edge to the next operator.
  DataStream forward() const { return partitioned(PartitionerKind::kForward); }
  DataStream rebalance() const { return partitioned(PartitionerKind::kRebalance); }
  DataStream rescale() const { return partitioned(PartitionerKind::kRescale); }
  DataStream shuffle() const { return partitioned(PartitionerKind::kShuffle); }
  DataStream broadcast() const { return partitioned(PartitionerKind::kBroadcast); }
  DataStream global() const { return partitioned(PartitionerKind::kGlobal); }

  /// Routes each record to the channel `partitioner(key, numChannels)` returns.
  template <typename Partitioner, typename KeySelector>
  DataStream partitionCustom(Partitioner partitioner, KeySelector keySelector) const {
    DataStream result = partitioned(PartitionerKind::kCustom);
    result.makeNetworkOutput_ = [partitioner, keySelector](RecordWriter* w) {
      return std::make_unique<CustomNetworkOutput<T, Partitioner, KeySelector>>(w, partitioner,
                                                                                keySelector);
    };
    return result;
  }

  /// One output record per input record.
  template <typename F>
  requires std::invocable<F&, T> || requires(F& f, T v) { f.map(std::move(v)); }
  auto map(F fn) const {
    using R = std::remove_cvref_t<typename internal::MapOutput<F, T>::Type>;
    return transform<R>("Map", "Map",
                        [fn] { return std::make_unique<internal::MapOperator<T, R, F>>(fn); });
  }

  /// Zero or more output records per input record, through a `Collector<R>&`. `R` is deduced
  /// from a non-generic function's parameter, or given: `flatMap<std::string>(fn)`.
  template <typename R = void, typename F>
  auto flatMap(F fn) const {
    using Out = std::conditional_t<std::is_void_v<R>, typename internal::FlatMapOutput<F>::Type, R>;
    return transform<Out>("Flat Map", "Flat Map", [fn] {
      return std::make_unique<internal::FlatMapOperator<T, Out, F>>(fn);
    });
  }

  /// Keeps the records for which `fn` returns true.
  template <typename F>
  requires std::predicate<F&, const T&> || requires(F& f, const T& v) { f.filter(v); }
  DataStream filter(F fn) const {
    return transform<T>("Filter", "Filter",
                        [fn] { return std::make_unique<internal::FilterOperator<T, F>>(fn); });
  }

  /// A ProcessFunction<T, OUT> subclass over each element.
  template <typename PF>
  requires std::is_base_of_v<ProcessFunction<T, typename PF::OutputType>, PF>
      DataStream<typename PF::OutputType> process(PF fn)
  const {
    using OUT = typename PF::OutputType;
    return transform<OUT>("Process", "Process", [fn] {
      return std::make_unique<internal::ProcessOperator<T, OUT, PF>>(fn);
    });
  }

  /// Event time from `strategy`: its timestamp assigner replaces each record's timestamp and
  /// its generator's watermarks replace upstream watermarks (the final one at the end of a
  /// bounded input passes). Throws JobDefinitionError naming the operator on invalid durations.
  DataStream assignTimestampsAndWatermarks(WatermarkStrategy<T> strategy) const {
    const std::string name = "Timestamps/Watermarks";
    if (std::string error = strategy.validate(name); !error.empty())
      internal::throwJobDefinitionError(error);
    return transform<T>(name, name, [strategy] {
      return std::make_unique<internal::TimestampsAndWatermarksOperator<T>>(strategy);
    });
  }

  /// Connects this stream with `other`: a two-input operator then sees both, each with its
  /// own type (CoProcessFunction), possibly keyed (`keyBy(selector1, selector2)`).
  template <typename B>
  ConnectedStreams<T, B> connect(const DataStream<B>& other) const {
    return ConnectedStreams<T, B>(*this, other);
  }

  /// Connects this stream with a broadcast stream (BroadcastProcessFunction).
  template <typename B>
  BroadcastConnectedStream<T, B> connect(const BroadcastStream<B>& broadcastStream) const {
    return BroadcastConnectedStream<T, B>(*this, broadcastStream.stream());
  }

  /// This stream sent whole to every parallel instance of a broadcast-connected operator, for
  /// the broadcast state pattern: `other.connect(rules.broadcast(ruleStateDescriptor))`. The
  /// descriptors name the broadcast states its function uses.
  template <typename K, typename V, typename... More>
  BroadcastStream<T> broadcast(const MapStateDescriptor<K, V>& descriptor,
                               const More&... more) const {
    (void)descriptor;
    ((void)more, ...);
    return BroadcastStream<T>(broadcast());
  }

  /// The records the producing operator emitted to `tag`.
  template <typename X>
  DataStream<X> getSideOutput(const OutputTag<X>& tag) const {
    const StreamNode& n = node("getSideOutput");
    return DataStream<X>(env_, n.id, tag.id());
  }

  /// Partitions by key: records with equal keys go to the same subtask, by key group.
  template <typename KeySelector>
  requires std::invocable<KeySelector&, const T&>
  auto keyBy(KeySelector selector) const {
    using K = std::remove_cvref_t<std::invoke_result_t<KeySelector&, const T&>>;
    static_assert(internal::requireSerializer<K>());
    DataStream partitionedStream = partitioned(PartitionerKind::kKeyGroup);
    partitionedStream.makeNetworkOutput_ = [selector](RecordWriter* w) {
      return std::make_unique<KeyedNetworkOutput<T, KeySelector>>(w, selector);
    };
    return KeyedStream<K, T, KeySelector>(std::move(partitionedStream), std::move(selector));
  }

  /// Groups all records into the windows of `assigner` in one non-parallel operator, as
  /// Flink's windowAll; see <brook/windowed_stream.h>.
  template <typename Assigner>
  auto windowAll(Assigner assigner) const;

  /// Groups this stream and `other` by key and window for a coGroup function, as Flink's
  /// coGroup: `coGroup(other).where(key1).equalTo(key2).window(assigner).apply(fn)`; see
  /// <brook/joined_streams.h>.
  template <typename T2>
  CoGroupedStreams<T, T2> coGroup(const DataStream<T2>& other) const;

  /// Joins this stream with `other` by key and window (an inner join), as Flink's join:
  /// `join(other).where(key1).equalTo(key2).window(assigner).apply(fn)`; see
  /// <brook/joined_streams.h>.
  template <typename T2>
  JoinedStreams<T, T2> join(const DataStream<T2>& other) const;

  /// Merges streams of the same type into one.
  template <typename... Streams>
  requires(std::same_as<Streams, DataStream<T>>&&...) DataStream union_(const Streams&... others)
  const {
    DataStream result = *this;
    (result.upstreams_.insert(result.upstreams_.end(), others.upstreams_.begin(),
                              others.upstreams_.end()),
     ...);
    return result;
  }

  DataStreamSink sinkTo(Sink<T> sink) const {
    auto create = sink.createWriter;
    int id = addOperator("Sink", "Sink: " + sink.name, nullptr, [create] {
      return std::make_unique<internal::SinkOperator<T>>(create());
    });
    return DataStreamSink(env_, id);
  }
  DataStreamSink print() const { return sinkTo(printSink<T>()); }
  /// Writes records as lines into part files of `directory`, exactly once (FileSink::text):
  /// part files in progress are hidden (named with a leading '.') until committed.
  DataStreamSink writeAsText(std::string directory) const {
    return sinkTo(FileSink::text<T>(std::move(directory)));
  }

  /// This stream with another serializing output on its edges to the next operator.
  DataStream withNetworkOutput(NetworkOutputFactory factory) const {
    DataStream result = *this;
    result.makeNetworkOutput_ = std::move(factory);
    return result;
  }

  /// Adds an operator that runs in the tasks of this stream's producer, before the partitioning
  /// chosen for this stream: it takes the producer's parallelism, so that it is chained to it.
  template <typename OUT>
  DataStream<OUT> transformInProducer(
      std::string kind,
      std::string name,
      std::function<std::unique_ptr<StreamOperator>()> factory) const {
    DataStream input = partitioned(PartitionerKind::kDefault);
    int id = input.addOperator(std::move(kind), std::move(name), internal::recordTypeOf<OUT>(),
                               std::move(factory));
    const StreamNode& first = env_->streamGraph().nodes.at(upstreams_.front().nodeId);
    bool same = true;
    for (const auto& up : upstreams_) {
      const StreamNode& n = env_->streamGraph().nodes.at(up.nodeId);
      same = same && n.parallelism == first.parallelism &&
             n.fixedParallelism == first.fixedParallelism &&
             n.maxParallelism == first.maxParallelism;
    }
    if (same) {
      StreamNode& added = env_->streamGraph().nodes.at(id);
      added.parallelism = first.parallelism;
      added.fixedParallelism = first.fixedParallelism;
      added.maxParallelism = first.maxParallelism;
    }
    return DataStream<OUT>(env_, id);
  }

  /// Adds an operator consuming this stream; the building block of the methods above.
  template <typename OUT>
  DataStream<OUT> transform(std::string kind,
                            std::string name,
                            std::function<std::unique_ptr<StreamOperator>()> factory) const {
    int id = addOperator(std::move(kind), std::move(name), internal::recordTypeOf<OUT>(),
                         std::move(factory));
    return DataStream<OUT>(env_, id);
  }

 private:
  template <typename U>
  friend class DataStream;
  template <typename A, typename B>
  friend class ConnectedStreams;
  template <typename A, typename B>
  friend class BroadcastConnectedStream;

  DataStream partitioned(PartitionerKind kind) const {
    DataStream result = *this;
    result.partitioner_ = kind;
    result.makeNetworkOutput_ = nullptr;
    return result;
  }

  StreamNode& node(const char* what) const {
    if (upstreams_.size() != 1 || !upstreams_.front().sideOutputTag.empty()) {
      internal::throwJobDefinitionError(std::string(what) +
                                        " applies to the stream of one operator, not to a "
                                        "union or a side output");
    }
    return env_->streamGraph().nodes.at(upstreams_.front().nodeId);
  }

  int addOperator(std::string kind,
                  std::string name,
                  std::shared_ptr<const RecordType> outType,
                  std::function<std::unique_ptr<StreamOperator>()> factory) const {
    int id = addNode(env_, std::move(kind), std::move(name), std::move(outType),
                     std::move(factory));
    connectTo(id, 1);
    return id;
  }

  static int addNode(StreamExecutionEnvironment* env,
                     std::string kind,
                     std::string name,
                     std::shared_ptr<const RecordType> outType,
                     std::function<std::unique_ptr<StreamOperator>()> factory) {
    StreamNode n;
    n.operatorKind = std::move(kind);
    n.name = std::move(name);
    n.factory = std::move(factory);
    n.outputType = std::move(outType);
    return env->addNode(std::move(n));
  }

  /// Adds the edges from this stream's producers to input `input` (1 or 2) of node `id`.
  void connectTo(int id, int input) const {
    NetworkOutputFactory makeNet = makeNetworkOutput_;
    if (!makeNet) {
      makeNet = [](RecordWriter* w) {
        return std::make_unique<NetworkOutput<T>>(w);
      };
    }
    for (const auto& up : upstreams_) {
      StreamEdge e;
      e.sourceId = up.nodeId;
      e.targetId = id;
      e.targetInput = input;
      e.sideOutputTag = up.sideOutputTag;
      e.partitioner = partitioner_;
      e.recordType = internal::recordTypeOf<T>();
      e.makeNetworkOutput = makeNet;
      env_->addEdge(std::move(e));
    }
  }

  StreamExecutionEnvironment* env_;
  std::vector<Upstream> upstreams_;
  PartitionerKind partitioner_ = PartitionerKind::kDefault;
  NetworkOutputFactory makeNetworkOutput_;
};

/// A stream partitioned by key. Aggregations keep one value per key.
template <typename K, typename T, typename KeySelector = std::function<K(const T&)>>
class KeyedStream {
 public:
  using KeyType = K;

  KeyedStream(DataStream<T> stream, KeySelector selector)
      : stream_(std::move(stream)), selector_(std::move(selector)) {}

  /// A rolling reduce: `fn(accumulated, next)` per key.
  template <typename F>
  DataStream<T> reduce(F fn) const {
    return aggregate("Keyed Reduce", std::move(fn));
  }

  /// Rolling sum of a field: `sum([](auto& r) -> int64_t& { return r.second; })`.
  template <typename Field>
  DataStream<T> sum(Field field) const {
    return aggregate("Keyed Aggregation", internal::SumReduce<T, Field>{field});
  }
  DataStream<T> sum() const requires std::is_arithmetic_v<T> {
    return sum(internal::IdentityField{});
  }
  /// Rolling minimum of a field; the other fields are those of the key's first record.
  template <typename Field>
  DataStream<T> min(Field field) const {
    return aggregate("Keyed Aggregation", internal::MinReduce<T, Field>{field});
  }
  template <typename Field>
  DataStream<T> max(Field field) const {
    return aggregate("Keyed Aggregation", internal::MaxReduce<T, Field>{field});
  }
  /// The record with the smallest field so far (the first of equal ones).
  template <typename Field>
  DataStream<T> minBy(Field field) const {
    return aggregate("Keyed Aggregation", internal::MinByReduce<T, Field>{field});
  }
  template <typename Field>
  DataStream<T> maxBy(Field field) const {
    return aggregate("Keyed Aggregation", internal::MaxByReduce<T, Field>{field});
  }

  /// A KeyedProcessFunction<K, T, OUT> subclass over each element, with keyed state and
  /// timers.
  template <typename PF>
  requires std::is_base_of_v<KeyedProcessFunction<K, T, typename PF::OutputType>, PF>
  DataStream<typename PF::OutputType> process(PF fn) const {
    using OUT = typename PF::OutputType;
    auto selector = selector_;
    return stream_.template transform<OUT>("Keyed Process", "Keyed Process", [selector, fn] {
      return std::make_unique<internal::KeyedProcessOperator<K, T, OUT, KeySelector, PF>>(selector,
                                                                                          fn);
    });
  }

  /// Groups each key's records into the windows of `assigner` (TumblingEventTimeWindows,
  /// SlidingEventTimeWindows, GlobalWindows, ...); see <brook/windowed_stream.h>.
  template <typename Assigner>
  auto window(Assigner assigner) const;
  /// Windows of `size` records per key, each firing when it is full, as Flink's countWindow.
  auto countWindow(int64_t size) const;
  /// Windows of the last `size` records per key, firing every `slide` records.
  auto countWindow(int64_t size, int64_t slide) const;

  /// Connects this keyed stream with a broadcast stream (KeyedBroadcastProcessFunction).
  template <typename B>
  auto connect(const BroadcastStream<B>& broadcastStream) const;

  /// Joins each element of this stream with the elements of `other` with the same key whose
  /// timestamps lie within an interval around its own, as Flink's intervalJoin:
  /// `intervalJoin(other).between(lower, upper).process(fn)`; see <brook/interval_join.h>.
  template <typename K2, typename T2, typename S2>
  auto intervalJoin(const KeyedStream<K2, T2, S2>& other) const;

  const DataStream<T>& stream() const { return stream_; }
  const KeySelector& keySelector() const { return selector_; }

 private:
  template <typename F>
  DataStream<T> aggregate(const char* name, F fn) const {
    auto selector = selector_;
    DataStream<T> input = stream_;
    // Plain reduce functions may also combine before the shuffle in BATCH mode; rich ones need
    // their life cycle and run only in the keyed operator.
    if constexpr (!std::is_base_of_v<RichFunction, F>) {
      input = stream_.withNetworkOutput([selector, fn](RecordWriter* w) {
        return std::make_unique<CombiningKeyedNetworkOutput<K, T, KeySelector, F>>(w, selector, fn);
      });
    }
    return input.template transform<T>(name, name, [selector, fn] {
      return std::make_unique<internal::KeyedReduceOperator<K, T, KeySelector, F>>(selector, fn);
    });
  }

  DataStream<T> stream_;
  KeySelector selector_;
};

/// A stream to be sent whole to every parallel instance of a broadcast-connected operator.
template <typename T>
class BroadcastStream {
 public:
  explicit BroadcastStream(DataStream<T> stream) : stream_(std::move(stream)) {}
  const DataStream<T>& stream() const { return stream_; }

 private:
  DataStream<T> stream_;
};

/// Two streams that a two-input operator consumes together.
template <typename A, typename B>
class ConnectedStreams {
 public:
  ConnectedStreams(DataStream<A> first, DataStream<B> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  /// Partitions both inputs by key, so that elements of either input with equal keys meet in
  /// the same instance (KeyedCoProcessFunction).
  template <typename S1, typename S2>
  requires std::invocable<S1&, const A&> && std::invocable<S2&, const B&>
  auto keyBy(S1 selector1, S2 selector2) const {
    using K = std::remove_cvref_t<std::invoke_result_t<S1&, const A&>>;
    static_assert(std::is_same_v<K, std::remove_cvref_t<std::invoke_result_t<S2&, const B&>>>,
                  "Brook: both key selectors of connected streams must return the same key type");
    return KeyedConnectedStreams<K, S1, S2>{first_.keyBy(selector1).stream(),
                                            second_.keyBy(selector2).stream(), selector1,
                                            selector2};
  }

  /// A CoProcessFunction<A, B, OUT> subclass over both inputs.
  template <typename F>
  requires std::is_base_of_v<CoProcessFunction<A, B, typename F::OutputType>, F>
  DataStream<typename F::OutputType> process(F fn) const {
    using OUT = typename F::OutputType;
    return twoInput<OUT>(first_, second_, "Co-Process", [fn] {
      return std::make_unique<internal::CoProcessOperator<A, B, OUT, F>>(fn);
    });
  }

  template <typename K, typename S1, typename S2>
  struct KeyedConnectedStreams {
    DataStream<A> first;
    DataStream<B> second;
    S1 selector1;
    S2 selector2;

    /// A KeyedCoProcessFunction<K, A, B, OUT> subclass over both keyed inputs.
    template <typename F>
    requires std::is_base_of_v<KeyedCoProcessFunction<K, A, B, typename F::OutputType>, F>
    DataStream<typename F::OutputType> process(F fn) const {
      using OUT = typename F::OutputType;
      auto s1 = selector1;
      auto s2 = selector2;
      return twoInput<OUT>(first, second, "Keyed Co-Process", [s1, s2, fn] {
        return std::make_unique<internal::KeyedCoProcessOperator<K, A, B, OUT, S1, S2, F>>(s1, s2,
                                                                                          fn);
      });
    }
  };

  /// Adds a two-input operator over `first` (input 1) and `second` (input 2).
  template <typename OUT>
  static DataStream<OUT> twoInput(const DataStream<A>& first,
                                  const DataStream<B>& second,
                                  std::string name,
                                  std::function<std::unique_ptr<StreamOperator>()> factory) {
    StreamExecutionEnvironment* env = first.env_;
    if (env != second.env_)
      internal::throwJobDefinitionError("cannot connect streams of two environments");
    int id = DataStream<A>::addNode(env, name, name, internal::recordTypeOf<OUT>(),
                                    std::move(factory));
    first.connectTo(id, 1);
    second.connectTo(id, 2);
    return DataStream<OUT>(env, id);
  }

 private:
  DataStream<A> first_;
  DataStream<B> second_;
};

/// A stream connected with a broadcast stream.
template <typename A, typename B>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(DataStream<A> first, DataStream<B> broadcast)
      : first_(std::move(first)), broadcast_(std::move(broadcast)) {}

  /// A BroadcastProcessFunction<A, B, OUT> subclass.
  template <typename F>
  requires std::is_base_of_v<BroadcastProcessFunction<A, B, typename F::OutputType>, F>
  DataStream<typename F::OutputType> process(F fn) const {
    using OUT = typename F::OutputType;
    return ConnectedStreams<A, B>::template twoInput<OUT>(
        first_, broadcast_, "Broadcast Process",
        [fn] { return std::make_unique<internal::BroadcastProcessOperator<A, B, OUT, F>>(fn); });
  }

 private:
  DataStream<A> first_;
  DataStream<B> broadcast_;
};

/// A keyed stream connected with a broadcast stream.
template <typename K, typename A, typename B, typename KeySelector>
class KeyedBroadcastConnectedStream {
 public:
  KeyedBroadcastConnectedStream(DataStream<A> keyed, KeySelector selector, DataStream<B> broadcast)
      : keyed_(std::move(keyed)), selector_(std::move(selector)), broadcast_(std::move(broadcast)) {}

  /// A KeyedBroadcastProcessFunction<K, A, B, OUT> subclass.
  template <typename F>
  requires std::is_base_of_v<KeyedBroadcastProcessFunction<K, A, B, typename F::OutputType>, F>
  DataStream<typename F::OutputType> process(F fn) const {
    using OUT = typename F::OutputType;
    auto selector = selector_;
    return ConnectedStreams<A, B>::template twoInput<OUT>(
        keyed_, broadcast_, "Keyed Broadcast Process", [selector, fn] {
          return std::make_unique<
              internal::KeyedBroadcastProcessOperator<K, A, B, OUT, KeySelector, F>>(selector, fn);
        });
  }

 private:
  DataStream<A> keyed_;
  KeySelector selector_;
  DataStream<B> broadcast_;
};

template <typename K, typename T, typename KeySelector>
template <typename B>
auto KeyedStream<K, T, KeySelector>::connect(const BroadcastStream<B>& broadcastStream) const {
  return KeyedBroadcastConnectedStream<K, T, B, KeySelector>(stream_, selector_,
                                                             broadcastStream.stream());
}

// StreamExecutionEnvironment's templates.

template <typename T>
DataStream<T> StreamExecutionEnvironment::fromCollection(std::vector<T> elements) {
  auto shared = std::make_shared<const std::vector<T>>(std::move(elements));
  return fromSource<T>([shared] { return std::make_unique<CollectionSourceReader<T>>(shared); },
                       "Collection Source", /*bounded=*/true, /*parallel=*/false);
}

template <typename T>
DataStream<T> StreamExecutionEnvironment::fromSource(
    std::function<std::unique_ptr<SourceReader<T>>()> createReader,
    WatermarkStrategy<T> strategy,
    std::string name,
    bool bounded,
    bool parallel) {
  std::string error = strategy.validate("Source: " + name);
  if (!error.empty())
    internal::throwJobDefinitionError(error);
  DataStream<T> stream = fromSource<T>(nullptr, std::move(name), bounded, parallel);
  streamGraph().nodes.at(static_cast<size_t>(stream.id())).factory = [createReader, strategy] {
    return std::make_unique<internal::SourceOperator<T>>(createReader(), strategy);
  };
  return stream;
}

template <typename T>
DataStream<T> StreamExecutionEnvironment::fromSource(
    std::function<std::unique_ptr<SourceReader<T>>()> createReader,
    std::string name,
    bool bounded,
    bool parallel) {
  StreamNode n;
  n.operatorKind = "Source";
  n.name = "Source: " + name;
  n.isSource = true;
  n.isBounded = bounded;
  n.fixedParallelism = !parallel;
  if (!parallel)
    n.parallelism = 1;
  n.outputType = internal::recordTypeOf<T>();
  n.factory = [createReader] {
    return std::make_unique<internal::SourceOperator<T>>(createReader());
  };
  return DataStream<T>(this, addNode(std::move(n)));
}

}  // namespace brook

// WindowedStream, which defines KeyedStream::window and countWindow.
#include <brook/windowed_stream.h>  // IWYU pragma: export
// CoGroupedStreams and JoinedStreams, which define DataStream::coGroup and join.
#include <brook/joined_streams.h>  // IWYU pragma: export
// IntervalJoin, which defines KeyedStream::intervalJoin.
#include <brook/interval_join.h>  // IWYU pragma: export
