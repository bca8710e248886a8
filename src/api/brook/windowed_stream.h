#pragma once

/// WindowedStream: a keyed stream grouped into windows (KeyedStream::window, countWindow), and
/// the window functions that turn each window into results: reduce and aggregate (one
/// pre-aggregated value per key and window), process (all elements), or both together.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <brook/data_stream.h>
#include <brook/internal/local_window_aggregate.h>
#include <brook/internal/window_operator.h>
#include <brook/windowing.h>

namespace brook {

namespace internal {
template <typename X>
std::string describe(const X& x, const char* fallback) {
  if constexpr (requires { x.description(); }) {
    return x.description();
  } else {
    return fallback;
  }
}
template <typename X>
bool canMergeOf(const X& x) {
  if constexpr (requires { x.canMerge(); }) {
    return x.canMerge();
  } else {
    (void)x;
    return false;
  }
}
template <typename X>
std::string validateOf(const X& x) {
  if constexpr (requires { x.validate(); }) {
    return x.validate();
  } else {
    (void)x;
    return {};
  }
}
}  // namespace internal

/// A keyed stream whose records are grouped into windows by `Assigner`. Configure it with
/// `trigger`, `evictor`, `allowedLateness` and `sideOutputLateData`, then end it with a window
/// function. Bad settings raise JobDefinitionError naming the window operator when the function
/// is added. With a merging assigner (session windows) the trigger must support merging, and a
/// ProcessWindowFunction has no windowState().
template <typename T, typename Assigner>
class AllWindowedStream;

template <typename K, typename T, typename KeySelector, typename Assigner>
class WindowedStream {
 public:
  using W = typename Assigner::WindowType;

  WindowedStream(DataStream<T> stream, KeySelector selector, Assigner assigner)
      : stream_(std::move(stream)), selector_(std::move(selector)), assigner_(std::move(assigner)) {
    setTrigger(assigner_.defaultTrigger());
  }

  /// Replaces the assigner's default trigger: a built-in trigger or a Trigger<T, W> subclass.
  template <typename TR>
  WindowedStream trigger(TR trigger) const {
    WindowedStream result = *this;
    result.setTrigger(std::move(trigger));
    return result;
  }

  /// Evicts elements before and/or after the window function: a built-in evictor or an
  /// Evictor<T, W> subclass. Window contents are then kept as lists even for reduce/aggregate.
  template <typename EV>
  WindowedStream evictor(EV evictor) const {
    WindowedStream result = *this;
    result.evictorName_ = internal::describe(evictor, "Evictor");
    result.evictorError_ = internal::validateOf(evictor);
    result.evictor_ = [evictor]() -> std::unique_ptr<internal::ErasedEvictor<T, W>> {
      return std::make_unique<internal::EvictorHolder<T, W, EV>>(evictor);
    };
    return result;
  }

  /// How long after a window's end (in event time) its state is kept: a late element within it
  /// fires the window again; later ones are dropped or sent to the late data side output.
  WindowedStream allowedLateness(std::chrono::milliseconds lateness) const {
    WindowedStream result = *this;
    result.allowedLateness_ = lateness.count();
    return result;
  }

  /// Sends elements that arrive after their windows' cleanup time to `tag` (read it with
  /// getSideOutput on the result).
  WindowedStream sideOutputLateData(const OutputTag<T>& tag) const {
    WindowedStream result = *this;
    result.lateDataTag_ = tag.id();
    return result;
  }

  /// Pre-aggregates in the tasks that produce this stream, before the shuffle, as Flink SQL's
  /// local-global (two-phase) aggregation: each producer folds its elements per key and slice
  /// of event time (the window for tumbling windows, gcd(size, slide) for sliding ones) and
  /// sends one partial per key and slice once the watermark passes the slice; the window
  /// operator merges the partials of a window's slices. Far fewer records cross the network
  /// and reach the window's state, and the results are those of the window without it when
  /// the function is associative and commutative: a reduce function applied to partial
  /// results, an AggregateFunction whose `merge` combines two accumulators. For event-time
  /// tumbling and sliding windows with their default trigger, without evictor or late data
  /// side output, ended with reduce() or aggregate(); other settings fail at plan time.
  WindowedStream localAggregation() const {
    WindowedStream result = *this;
    result.localAggregation_ = true;
    return result;
  }

  /// Reduces each window's elements with `fn(accumulated, next)` as they arrive; emits the
  /// reduced value when the window fires.
  template <typename F>
  requires std::is_invocable_r_v<T, F&, const T&, const T&>
  DataStream<T> reduce(F fn) const {
    return reduceWith(std::move(fn), internal::PassThroughWindowFunction<T, K, W>{});
  }

  /// Reduces as elements arrive; on firing, `pf` sees the reduced value and the window.
  template <typename F, typename PF>
  requires std::is_invocable_r_v<T, F&, const T&, const T&> &&
      std::is_base_of_v<ProcessWindowFunction<T, typename PF::OutputType, K, W>, PF>
  DataStream<typename PF::OutputType> reduce(F fn, PF pf) const {
    return reduceWith(std::move(fn), internal::UserWindowFunction<PF>{std::move(pf)});
  }

  /// Aggregates each window's elements into an accumulator as they arrive; emits
  /// `getResult(accumulator)` when the window fires.
  template <typename AF>
  requires std::is_base_of_v<AggregateFunction<T, typename AF::AccumulatorType,
                                               typename AF::OutputType>,
                             AF>
  DataStream<typename AF::OutputType> aggregate(AF af) const {
    using V = typename AF::OutputType;
    return aggregateWith(std::move(af), internal::PassThroughWindowFunction<V, K, W>{});
  }

  /// Aggregates as elements arrive; on firing, `pf` sees the aggregate's result and the window.
  template <typename AF, typename PF>
  requires std::is_base_of_v<AggregateFunction<T, typename AF::AccumulatorType,
                                               typename AF::OutputType>,
                             AF> &&
      std::is_base_of_v<ProcessWindowFunction<typename AF::OutputType, typename PF::OutputType,
                                              K, W>,
                        PF>
  DataStream<typename PF::OutputType> aggregate(AF af, PF pf) const {
    return aggregateWith(std::move(af), internal::UserWindowFunction<PF>{std::move(pf)});
  }

  /// A ProcessWindowFunction<T, OUT, K, W> subclass over all elements of each fired window.
  template <typename PF>
  requires std::is_base_of_v<ProcessWindowFunction<T, typename PF::OutputType, K, W>, PF>
  DataStream<typename PF::OutputType> process(PF pf) const {
    return processWith(internal::UserWindowFunction<PF>{std::move(pf)});
  }

 private:
  template <typename, typename>
  friend class AllWindowedStream;

  template <typename TR>
  void setTrigger(TR trigger) {
    eventTimeTrigger_ = std::is_same_v<TR, EventTimeTrigger>;
    triggerName_ = internal::describe(trigger, "Trigger");
    triggerError_ = internal::validateOf(trigger);
    triggerCanMerge_ = internal::canMergeOf(trigger);
    trigger_ = [trigger]() -> std::unique_ptr<internal::ErasedTrigger<T, W>> {
      return std::make_unique<internal::TriggerHolder<T, W, TR>>(trigger);
    };
  }

  template <typename F>
  static typename ReducingStateDescriptor<T>::ReduceFunction reduceFunction(F fn) {
    return [fn](const T& a, const T& b) mutable -> T { return fn(a, b); };
  }

  template <typename F, typename Function>
  auto reduceWith(F fn, Function function) const {
    auto reduce = reduceFunction(fn);
    if (localAggregation_) {
      return buildLocalGlobal<T>("Reduce", internal::ReduceFolding<T, F>{std::move(fn)},
                                 internal::WindowPartialContents<internal::ReduceContents<T>>(
                                     internal::ReduceContents<T>(reduce)),
                                 std::move(function));
    }
    if (evictor_) {
      return build("Reduce", internal::EvictingContents<T, W, internal::ReduceAll<T>>(
                                 evictor_, internal::ReduceAll<T>{reduce}),
                   std::move(function));
    }
    return build("Reduce", internal::ReduceContents<T>(reduce), std::move(function));
  }

  template <typename Function>
  auto processWith(Function function) const {
    if (localAggregation_)
      fail(operatorName("Process"),
           "localAggregation() needs reduce() or aggregate(), not process()");
    if (evictor_) {
      return build("Process", internal::EvictingContents<T, W, internal::KeepAll<T>>(
                                  evictor_, internal::KeepAll<T>{}),
                   std::move(function));
    }
    return build("Process", internal::ListContents<T>(), std::move(function));
  }

  template <typename AF, typename Function>
  auto aggregateWith(AF af, Function function) const {
    using ACC = typename AF::AccumulatorType;
    using V = typename AF::OutputType;
    if (localAggregation_) {
      using Global = internal::MergePartials<AF>;
      return buildLocalGlobal<ACC>(
          "Aggregate", internal::AggregateFolding<T, ACC, AF>{af},
          internal::WindowPartialContents<internal::AggregateContents<ACC, ACC, V, Global>>(
              internal::AggregateContents<ACC, ACC, V, Global>(Global(std::move(af)))),
          std::move(function));
    }
    if (evictor_) {
      return build("Aggregate",
                   internal::EvictingContents<T, W, internal::AggregateAll<T, ACC, V, AF>>(
                       evictor_, internal::AggregateAll<T, ACC, V, AF>{std::move(af)}),
                   std::move(function));
    }
    return build("Aggregate", internal::AggregateContents<T, ACC, V, AF>(std::move(af)),
                 std::move(function));
  }

  /// Adds the window operator after checking the settings.
  template <typename Contents, typename Function>
  DataStream<typename Function::OutputType> build(const char* functionKind,
                                                  Contents contents,
                                                  Function function) const {
    using OUT = typename Function::OutputType;
    std::string name = operatorName(functionKind);
    checkSettings(name);
    auto selector = selector_;
    auto assigner = assigner_;
    internal::WindowSettings<T, W> settings{trigger_, allowedLateness_, lateDataTag_};
    return stream_.template transform<OUT>(
        "Window", std::move(name), [selector, assigner, settings, contents, function] {
          return std::make_unique<
              internal::WindowOperator<K, T, W, KeySelector, Assigner, Contents, Function>>(
              selector, assigner, settings, contents, function);
        });
  }

  /// Adds the local operator (in the producer's tasks) and the global window operator of
  /// localAggregation(): `folding` folds elements into accumulators of type ACC, `contents`
  /// merges the partials into the windows.
  template <typename ACC, typename Folding, typename Contents, typename Function>
  DataStream<typename Function::OutputType> buildLocalGlobal(const char* functionKind,
                                                             Folding folding,
                                                             Contents contents,
                                                             Function function) const {
    using OUT = typename Function::OutputType;
    using Partial = internal::WindowPartial<K, ACC>;
    std::string name = operatorName(functionKind);
    checkSettings(name);
    constexpr bool kSliceable = std::is_same_v<Assigner, TumblingEventTimeWindows> ||
                                std::is_same_v<Assigner, SlidingEventTimeWindows>;
    if constexpr (!kSliceable) {
      fail(name,
           "localAggregation() needs event-time tumbling or sliding windows "
           "(TumblingEventTimeWindows, SlidingEventTimeWindows), not " +
               assigner_.description());
    } else {
      if (!eventTimeTrigger_) {
        fail(name,
             "localAggregation() needs the assigner's default trigger (EventTimeTrigger), "
             "not " +
                 triggerName_);
      }
      if (evictor_)
        fail(name, "localAggregation() cannot be used with an evictor (" + evictorName_ + ")");
      if (!lateDataTag_.empty()) {
        fail(name,
             "localAggregation() cannot send late elements to a side output: they are "
             "pre-aggregated before they reach the window");
      }
      const internal::WindowSlicing slicing = internal::WindowSlicing::of(assigner_);
      auto selector = selector_;
      DataStream<Partial> partials = stream_.template transformInProducer<Partial>(
          "Local Window Aggregate",
          "LocalWindowAggregate(" + assigner_.description() + ", " + functionKind + ")",
          [selector, slicing, folding] {
            return std::make_unique<
                internal::LocalWindowAggregateOperator<K, T, ACC, KeySelector, Folding>>(
                selector, slicing, folding);
          });
      auto assigner = assigner_;
      internal::WindowSettings<Partial, W> settings{
          [] {
            return std::make_unique<internal::TriggerHolder<Partial, W, EventTimeTrigger>>(
                EventTimeTrigger::create());
          },
          allowedLateness_, std::string()};
      return partials.keyBy(internal::WindowPartialKey{})
          .stream()
          .template transform<OUT>(
              "Window", std::move(name), [assigner, settings, contents, function] {
                return std::make_unique<internal::WindowOperator<
                    K, Partial, W, internal::WindowPartialKey, Assigner, Contents, Function>>(
                    internal::WindowPartialKey{}, assigner, settings, contents, function);
              });
    }
  }

  std::string operatorName(const char* functionKind) const {
    return "Window(" + assigner_.description() + ", " + triggerName_ +
           (evictor_ ? ", " + evictorName_ : std::string()) + ", " + functionKind + ")";
  }

  [[noreturn]] static void fail(const std::string& name, const std::string& what) {
    internal::throwJobDefinitionError("window operator '" + name + "': " + what);
  }

  /// Throws JobDefinitionError naming the operator `name` if a setting is bad.
  void checkSettings(const std::string& name) const {
    auto fail = [&](const std::string& what) {
      WindowedStream::fail(name, what);
    };
    if (std::string error = assigner_.validate(); !error.empty())
      fail(error);
    if (!triggerError_.empty())
      fail(triggerError_);
    if (MergingWindowAssigner<Assigner> && !triggerCanMerge_) {
      fail("A merging window assigner cannot be used with a trigger that does not support "
           "merging (" + triggerName_ + ": implement canMerge() and onMerge())");
    }
    if (!evictorError_.empty())
      fail(evictorError_);
    if (allowedLateness_ < 0)
      fail("allowed lateness must not be negative, got " + std::to_string(allowedLateness_) +
           " ms");
  }

  DataStream<T> stream_;
  KeySelector selector_;
  Assigner assigner_;
  internal::TriggerFactory<T, W> trigger_;
  std::string triggerName_;
  std::string triggerError_;
  bool triggerCanMerge_ = false;
  bool eventTimeTrigger_ = false;
  bool localAggregation_ = false;
  internal::EvictorFactory<T, W> evictor_;
  std::string evictorName_;
  std::string evictorError_;
  int64_t allowedLateness_ = 0;
  std::string lateDataTag_;
};

namespace internal {
/// The one key of windowAll.
struct NullKeySelector {
  template <typename T>
  uint8_t operator()(const T&) const {
    return 0;
  }
};

/// Runs a user's ProcessAllWindowFunction in a keyed window operator (whose one key it ignores).
template <typename PF>
struct UserAllWindowFunction {
  using OutputType = typename PF::OutputType;
  PF fn;
  void open(const RuntimeContext& context) { openFunction(fn, context); }
  void close() { closeFunction(fn); }
  template <typename Ctx, typename X>
  void process(const uint8_t&, Ctx& ctx, const std::vector<X>& values,
               Collector<OutputType>& out) {
    fn.process(ctx, values, out);
  }
  template <typename Ctx>
  void clear(Ctx& ctx) {
    fn.clear(ctx);
  }
};
}  // namespace internal

/// A non-keyed stream grouped into windows by `Assigner` (DataStream::windowAll): one
/// non-parallel window operator sees every record, as in Flink. Configured and ended as
/// WindowedStream, with ProcessAllWindowFunction in place of ProcessWindowFunction.
template <typename T, typename Assigner>
class AllWindowedStream {
 public:
  using W = typename Assigner::WindowType;
  using Windowed = WindowedStream<uint8_t, T, internal::NullKeySelector, Assigner>;

  explicit AllWindowedStream(Windowed windowed) : windowed_(std::move(windowed)) {}

  template <typename TR>
  AllWindowedStream trigger(TR trigger) const {
    return AllWindowedStream(windowed_.trigger(std::move(trigger)));
  }
  template <typename EV>
  AllWindowedStream evictor(EV evictor) const {
    return AllWindowedStream(windowed_.evictor(std::move(evictor)));
  }
  AllWindowedStream allowedLateness(std::chrono::milliseconds lateness) const {
    return AllWindowedStream(windowed_.allowedLateness(lateness));
  }
  AllWindowedStream sideOutputLateData(const OutputTag<T>& tag) const {
    return AllWindowedStream(windowed_.sideOutputLateData(tag));
  }
  /// Pre-aggregates in the tasks that produce this stream, in parallel, before the one window
  /// operator merges their partials; see WindowedStream::localAggregation.
  AllWindowedStream localAggregation() const {
    return AllWindowedStream(windowed_.localAggregation());
  }

  template <typename F>
  requires std::is_invocable_r_v<T, F&, const T&, const T&>
  DataStream<T> reduce(F fn) const {
    return nonParallel(windowed_.reduce(std::move(fn)));
  }
  template <typename F, typename PF>
  requires std::is_invocable_r_v<T, F&, const T&, const T&> &&
      std::is_base_of_v<ProcessAllWindowFunction<T, typename PF::OutputType, W>, PF>
  DataStream<typename PF::OutputType> reduce(F fn, PF pf) const {
    return nonParallel(
        windowed_.reduceWith(std::move(fn), internal::UserAllWindowFunction<PF>{std::move(pf)}));
  }
  template <typename AF>
  DataStream<typename AF::OutputType> aggregate(AF af) const {
    return nonParallel(windowed_.aggregate(std::move(af)));
  }
  template <typename AF, typename PF>
  requires std::is_base_of_v<
      ProcessAllWindowFunction<typename AF::OutputType, typename PF::OutputType, W>, PF>
  DataStream<typename PF::OutputType> aggregate(AF af, PF pf) const {
    return nonParallel(
        windowed_.aggregateWith(std::move(af), internal::UserAllWindowFunction<PF>{std::move(pf)}));
  }
  template <typename PF>
  requires std::is_base_of_v<ProcessAllWindowFunction<T, typename PF::OutputType, W>, PF>
  DataStream<typename PF::OutputType> process(PF pf) const {
    return nonParallel(windowed_.processWith(internal::UserAllWindowFunction<PF>{std::move(pf)}));
  }

 private:
  template <typename OUT>
  static DataStream<OUT> nonParallel(DataStream<OUT> stream) {
    stream.setParallelism(1);
    stream.environment().streamGraph().nodes.at(stream.id()).fixedParallelism = true;
    return stream;
  }

  Windowed windowed_;
};

template <typename T>
template <typename Assigner>
auto DataStream<T>::windowAll(Assigner assigner) const {
  static_assert(WindowAssignerFor<Assigner, T>,
                "Brook: windowAll() takes a window assigner such as TumblingEventTimeWindows::of(...)");
  auto keyed = keyBy(internal::NullKeySelector{});
  return AllWindowedStream<T, Assigner>(
      typename AllWindowedStream<T, Assigner>::Windowed(keyed.stream(), keyed.keySelector(),
                                                        std::move(assigner)));
}

template <typename K, typename T, typename KeySelector>
template <typename Assigner>
auto KeyedStream<K, T, KeySelector>::window(Assigner assigner) const {
  static_assert(WindowAssignerFor<Assigner, T>,
                "Brook: window() takes a window assigner such as TumblingEventTimeWindows::of(...)");
  return WindowedStream<K, T, KeySelector, Assigner>(stream_, selector_, std::move(assigner));
}

template <typename K, typename T, typename KeySelector>
auto KeyedStream<K, T, KeySelector>::countWindow(int64_t size) const {
  return window(GlobalWindows::create())
      .trigger(PurgingTrigger<CountTrigger>::of(CountTrigger::of(size)));
}

template <typename K, typename T, typename KeySelector>
auto KeyedStream<K, T, KeySelector>::countWindow(int64_t size, int64_t slide) const {
  return window(GlobalWindows::create())
      .evictor(CountEvictor::of(size))
      .trigger(CountTrigger::of(slide));
}

}  // namespace brook
