#pragma once

/// The operator behind WindowedStream, as Flink's WindowOperator and EvictingWindowOperator:
/// assigns each record to windows, keeps window contents in the keyed state backend with the
/// serialized window as namespace, asks the trigger when to evaluate a window, and clears a
/// window's state at its cleanup time (end + allowed lateness) through a timer.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brook/internal/keyed_operator_support.h>
#include <brook/internal/merging_window_set.h>
#include <brook/internal/operators.h>
#include <brook/operator.h>
#include <brook/state.h>
#include <brook/windowing.h>

namespace brook::internal {

/// The name of the window contents' state, as Flink's.
inline constexpr char kWindowContentsState[] = "window-contents";

/// A trigger of any type, behind one virtual call per event.
template <typename T, typename W>
class ErasedTrigger {
 public:
  virtual ~ErasedTrigger() = default;
  virtual TriggerResult onElement(const T& e, int64_t ts, const W& w, TriggerContext& ctx) = 0;
  virtual TriggerResult onEventTime(int64_t time, const W& w, TriggerContext& ctx) = 0;
  virtual TriggerResult onProcessingTime(int64_t time, const W& w, TriggerContext& ctx) = 0;
  virtual void clear(const W& w, TriggerContext& ctx) = 0;
  virtual void onMerge(const W& w, OnMergeContext& ctx) = 0;
  /// The domain of the trigger's timer when its only timer is one at the window's max
  /// timestamp that only `clear` deletes (the default triggers, EventTimeTrigger and
  /// ProcessingTimeTrigger); none for every other trigger.
  virtual std::optional<TimeDomain> windowEndTimerDomain() const = 0;
};

template <typename T, typename W, typename TR>
class TriggerHolder final : public ErasedTrigger<T, W> {
 public:
  explicit TriggerHolder(TR trigger) : trigger_(std::move(trigger)) {}
  TriggerResult onElement(const T& e, int64_t ts, const W& w, TriggerContext& ctx) override {
    return trigger_.onElement(e, ts, w, ctx);
  }
  TriggerResult onEventTime(int64_t time, const W& w, TriggerContext& ctx) override {
    return trigger_.onEventTime(time, w, ctx);
  }
  TriggerResult onProcessingTime(int64_t time, const W& w, TriggerContext& ctx) override {
    return trigger_.onProcessingTime(time, w, ctx);
  }
  void clear(const W& w, TriggerContext& ctx) override { trigger_.clear(w, ctx); }
  void onMerge(const W& w, OnMergeContext& ctx) override {
    if constexpr (requires { trigger_.onMerge(w, ctx); }) {
      trigger_.onMerge(w, ctx);
    } else {
      // WindowedStream rejects such a trigger with a merging assigner at plan time.
      (void)w, (void)ctx;
      throw std::logic_error("the trigger does not support merging windows");
    }
  }
  std::optional<TimeDomain> windowEndTimerDomain() const override {
    if constexpr (std::is_same_v<TR, EventTimeTrigger>) {
      return TimeDomain::kEventTime;
    } else if constexpr (std::is_same_v<TR, ProcessingTimeTrigger>) {
      return TimeDomain::kProcessingTime;
    } else {
      return std::nullopt;
    }
  }

 private:
  TR trigger_;
};

template <typename T, typename W>
class ErasedEvictor {
 public:
  virtual ~ErasedEvictor() = default;
  virtual void evictBefore(std::vector<TimestampedValue<T>>& elements, const W& w,
                           const EvictorContext& ctx) = 0;
  virtual void evictAfter(std::vector<TimestampedValue<T>>& elements, const W& w,
                          const EvictorContext& ctx) = 0;
};

template <typename T, typename W, typename EV>
class EvictorHolder final : public ErasedEvictor<T, W> {
 public:
  explicit EvictorHolder(EV evictor) : evictor_(std::move(evictor)) {}
  void evictBefore(std::vector<TimestampedValue<T>>& elements, const W& w,
                   const EvictorContext& ctx) override {
    evictor_.evictBefore(elements, w, ctx);
  }
  void evictAfter(std::vector<TimestampedValue<T>>& elements, const W& w,
                  const EvictorContext& ctx) override {
    evictor_.evictAfter(elements, w, ctx);
  }

 private:
  EV evictor_;
};

template <typename T, typename W>
using TriggerFactory = std::function<std::unique_ptr<ErasedTrigger<T, W>>()>;
template <typename T, typename W>
using EvictorFactory = std::function<std::unique_ptr<ErasedEvictor<T, W>>()>;

// ----------------------------------------------------------------------------------------------
// Window contents: how elements are kept per key and window. Each policy registers its state
// in `open`, adds elements, and hands the window function its input on `fire`. With merging
// windows the operator points the contents at a window's state window (`setNamespace`) and
// moves the contents of merged state windows into the result's (`mergeNamespaces`, as Flink's
// InternalMergingState.mergeNamespaces).

/// Every element, in arrival order (ProcessWindowFunction without pre-aggregation).
template <typename T>
class ListContents {
 public:
  using ValueType = T;
  void open(KeyedStateBackend& backend, KeyedStateStore& scope) {
    state_ = &backend.getListState(ListStateDescriptor<T>(kWindowContentsState));
    scope.adopt(kWindowContentsState);
    table_ = backend.findTable(kWindowContentsState);
  }
  /// Adds an element; false: whether the window held elements before is not known.
  bool add(const T& value, int64_t) {
    state_->add(value);
    return false;
  }
  bool empty() { return state_->get().empty(); }
  void clear() { state_->clear(); }
  template <typename W, typename Call>
  void fire(const W&, const EvictorContext&, Call&& call) {
    std::vector<T> values = state_->get();
    if (!values.empty())
      call(values);
  }
  void setNamespace(std::string_view ns) { table_->setCurrentNamespace(ns); }
  void prefetch(std::string_view ns) const { table_->prefetchInNamespace(ns); }
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) {
    internal::mergeNamespaces(*state_, *table_, target, sources);
  }

 private:
  ListState<T>* state_ = nullptr;
  KeyedStateTable* table_ = nullptr;
};

/// One value per window, reduced as elements arrive.
template <typename T>
class ReduceContents {
 public:
  using ValueType = T;
  using ReduceFunction = typename ReducingStateDescriptor<T>::ReduceFunction;
  explicit ReduceContents(ReduceFunction reduce) : reduce_(std::move(reduce)) {}
  void open(KeyedStateBackend& backend, KeyedStateStore& scope) {
    state_ = &backend.getReducingState(ReducingStateDescriptor<T>(kWindowContentsState, reduce_));
    scope.adopt(kWindowContentsState);
    table_ = backend.findTable(kWindowContentsState);
  }
  void setNamespace(std::string_view ns) { table_->setCurrentNamespace(ns); }
  void prefetch(std::string_view ns) const { table_->prefetchInNamespace(ns); }
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) {
    internal::mergeNamespaces(*state_, *table_, target, sources);
  }
  /// Adds an element; returns whether the window held a value before (the add read it).
  bool add(const T& value, int64_t) {
    table_->forgetLastRead();
    state_->add(value);
    return table_->lastRead() == KeyedStateTable::LastRead::kFound;
  }
  bool empty() { return !state_->get().has_value(); }
  void clear() { state_->clear(); }
  template <typename W, typename Call>
  void fire(const W&, const EvictorContext&, Call&& call) {
    std::optional<T> v = state_->get();
    if (!v.has_value())
      return;
    std::vector<T> values;
    values.push_back(std::move(*v));
    call(values);
  }

 private:
  ReduceFunction reduce_;
  ReducingState<T>* state_ = nullptr;
  KeyedStateTable* table_ = nullptr;
};

/// One accumulator per window, aggregated as elements arrive; the function sees its result.
template <typename T, typename ACC, typename V, typename AF>
class AggregateContents {
 public:
  using ValueType = V;
  explicit AggregateContents(AF function) : function_(std::move(function)) {}
  void open(KeyedStateBackend& backend, KeyedStateStore& scope) {
    state_ = &backend.getAggregatingState(
        AggregatingStateDescriptor<T, ACC, V>(kWindowContentsState, function_));
    scope.adopt(kWindowContentsState);
    table_ = backend.findTable(kWindowContentsState);
  }
  void setNamespace(std::string_view ns) { table_->setCurrentNamespace(ns); }
  void prefetch(std::string_view ns) const { table_->prefetchInNamespace(ns); }
  /// Merges the accumulators with the function's `merge`.
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) {
    internal::mergeAccumulatorNamespaces<ACC>(*table_, function_, target, sources);
  }
  /// Adds an element; returns whether the window held a value before (the add read it).
  bool add(const T& value, int64_t) {
    table_->forgetLastRead();
    state_->add(value);
    return table_->lastRead() == KeyedStateTable::LastRead::kFound;
  }
  bool empty() { return !state_->get().has_value(); }
  void clear() { state_->clear(); }
  template <typename W, typename Call>
  void fire(const W&, const EvictorContext&, Call&& call) {
    std::optional<V> v = state_->get();
    if (!v.has_value())
      return;
    std::vector<V> values;
    values.push_back(std::move(*v));
    call(values);
  }

 private:
  AF function_;
  AggregatingState<T, V>* state_ = nullptr;
  KeyedStateTable* table_ = nullptr;
};

/// With an evictor: every element with its timestamp, evicted from before and after the
/// function sees them; `Finish` turns the remaining elements into the function's input (as is,
/// reduced, or aggregated).
template <typename T, typename W, typename Finish>
class EvictingContents {
 public:
  using ValueType = typename Finish::ValueType;
  EvictingContents(EvictorFactory<T, W> evictor, Finish finish)
      : makeEvictor_(std::move(evictor)), finish_(std::move(finish)) {}
  EvictingContents(const EvictingContents& o)
      : makeEvictor_(o.makeEvictor_), finish_(o.finish_) {}
  void open(KeyedStateBackend& backend, KeyedStateStore& scope) {
    evictor_ = makeEvictor_();
    state_ = &backend.getListState(
        ListStateDescriptor<TimestampedValue<T>>(kWindowContentsState));
    scope.adopt(kWindowContentsState);
    table_ = backend.findTable(kWindowContentsState);
  }
  void setNamespace(std::string_view ns) { table_->setCurrentNamespace(ns); }
  void prefetch(std::string_view ns) const { table_->prefetchInNamespace(ns); }
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) {
    internal::mergeNamespaces(*state_, *table_, target, sources);
  }
  /// Adds an element; false: whether the window held elements before is not known.
  bool add(const T& value, int64_t ts) {
    state_->add(TimestampedValue<T>{value, ts});
    return false;
  }
  bool empty() { return state_->get().empty(); }
  void clear() { state_->clear(); }
  template <typename Call>
  void fire(const W& window, const EvictorContext& ctx, Call&& call) {
    std::vector<TimestampedValue<T>> elements = state_->get();
    if (elements.empty())
      return;
    evictor_->evictBefore(elements, window, ctx);
    std::vector<ValueType> values;
    if (finish_(elements, values))
      call(values);
    evictor_->evictAfter(elements, window, ctx);
    state_->update(std::move(elements));
  }

 private:
  EvictorFactory<T, W> makeEvictor_;
  Finish finish_;
  std::unique_ptr<ErasedEvictor<T, W>> evictor_;
  ListState<TimestampedValue<T>>* state_ = nullptr;
  KeyedStateTable* table_ = nullptr;
};

template <typename T>
struct KeepAll {
  using ValueType = T;
  bool operator()(const std::vector<TimestampedValue<T>>& in, std::vector<T>& out) const {
    for (const auto& e : in)
      out.push_back(e.value);
    return !out.empty();
  }
};

template <typename T>
struct ReduceAll {
  using ValueType = T;
  typename ReducingStateDescriptor<T>::ReduceFunction reduce;
  bool operator()(const std::vector<TimestampedValue<T>>& in, std::vector<T>& out) const {
    if (in.empty())
      return false;
    T acc = in.front().value;
    for (size_t i = 1; i < in.size(); ++i)
      acc = reduce(acc, in[i].value);
    out.push_back(std::move(acc));
    return true;
  }
};

template <typename T, typename ACC, typename V, typename AF>
struct AggregateAll {
  using ValueType = V;
  AF function;
  bool operator()(const std::vector<TimestampedValue<T>>& in, std::vector<V>& out) const {
    ACC acc = function.createAccumulator();
    for (const auto& e : in)
      acc = function.add(e.value, std::move(acc));
    out.push_back(function.getResult(acc));
    return true;
  }
};

// ----------------------------------------------------------------------------------------------
// Window functions: what is emitted for a fired window.

/// Emits the window function's input as is (reduce / aggregate without a process function).
template <typename X, typename K, typename W>
struct PassThroughWindowFunction {
  using OutputType = X;
  void open(const RuntimeContext&) {}
  void close() {}
  void process(const K&, typename ProcessWindowFunction<X, X, K, W>::Context&,
               const std::vector<X>& values, Collector<X>& out) {
    for (const X& v : values)
      out.collect(v);
  }
  void clear(typename ProcessWindowFunction<X, X, K, W>::Context&) {}
};

/// Runs a user's ProcessWindowFunction.
template <typename PF>
struct UserWindowFunction {
  using OutputType = typename PF::OutputType;
  PF fn;
  void open(const RuntimeContext& context) { openFunction(fn, context); }
  void close() { closeFunction(fn); }
  template <typename K, typename Ctx, typename X>
  void process(const K& key, Ctx& ctx, const std::vector<X>& values,
               Collector<OutputType>& out) {
    fn.process(key, ctx, values, out);
  }
  template <typename Ctx>
  void clear(Ctx& ctx) {
    fn.clear(ctx);
  }
};

// ----------------------------------------------------------------------------------------------
// The operator

/// What a window operator is configured with besides its contents and function.
template <typename T, typename W>
struct WindowSettings {
  TriggerFactory<T, W> trigger;
  int64_t allowedLateness = 0;
  std::string lateDataTag;  ///< empty: late elements are dropped
};

/// With a merging assigner (MergingWindowAssigner, chosen at compile time) the operator keeps
/// each key's in-flight windows in a MergingWindowSet persisted as the keyed state
/// "merging-window-set" (default namespace), as Flink's: window contents live in a window's
/// state window, trigger state and timers in the window itself.
template <typename K, typename T, typename W, typename KeySelector, typename Assigner,
          typename Contents, typename Function>
class WindowOperator final
    : public OneInputOperator<T, typename Function::OutputType> {
 public:
  using X = typename Contents::ValueType;
  using OUT = typename Function::OutputType;
  using FunctionContext = typename ProcessWindowFunction<X, OUT, K, W>::Context;
  static constexpr bool kMerging = MergingWindowAssigner<Assigner>;

  WindowOperator(KeySelector selector, Assigner assigner, WindowSettings<T, W> settings,
                 Contents contents, Function function)
      : selector_(std::move(selector)),
        assigner_(std::move(assigner)),
        settings_(std::move(settings)),
        contents_(std::move(contents)),
        function_(std::move(function)),
        mergingWindows_(&assigner_) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    keyed_.open(context, [this](const InternalTimer& t, TimeDomain d) { onTimer(t, d); });
    KeyedStateBackend& backend = keyed_.backend();
    windowState_.emplace(&backend);
    globalState_.emplace(&backend);
    windowState_->setOther(&*globalState_);
    globalState_->setOther(&*windowState_);
    trigger_ = settings_.trigger();
    const std::optional<TimeDomain> endTimer = trigger_->windowEndTimerDomain();
    windowTimersFollowContents_ = !kMerging && endTimer.has_value() &&
                                  (*endTimer == TimeDomain::kEventTime) == assigner_.isEventTime();
    triggerContext_.emplace(&keyed_.timers(), &*windowState_);
    // Per-window state of merging windows is not supported, as in Flink.
    functionContext_.emplace(this, &keyed_.timers(), kMerging ? nullptr : &*windowState_,
                             &*globalState_);
    if constexpr (kMerging) {
      mergingState_ = &backend.getListState(
          ListStateDescriptor<std::pair<W, W>>(kMergingWindowSetState));
      globalState_->adopt(kMergingWindowSetState);
    }
    this->callUser([&] {
      contents_.open(backend, *windowState_);
      function_.open(context);
    });
  }

  void push(T&& record, int64_t timestamp) override {
    this->callUser([&] {
      if constexpr (kMerging) {
        processMergingElement(record, timestamp);
      } else {
        processElement(record, timestamp);
      }
    });
  }

  void processWatermark(int64_t watermark) override {
    this->callUser([&] { keyed_.timers().advanceWatermark(watermark); });
    this->out_->emitWatermark(watermark);
  }

  void endInput() override {
    triggerContext_->setInputEnded();
    this->callUser([&] { keyed_.timers().fireAllProcessingTimers(); });
  }

  void close() override {
    this->callUser([&] { function_.close(); });
  }

 private:
  void assignWindows(const T& record, int64_t timestamp) {
    windows_.clear();
    // The built-in event-time assigners do not read the clock.
    constexpr bool kReadsClock = !std::is_same_v<Assigner, TumblingEventTimeWindows> &&
                                 !std::is_same_v<Assigner, SlidingEventTimeWindows>;
    const WindowAssignerContext context{kReadsClock ? keyed_.timers().currentProcessingTime() : 0};
    if constexpr (requires { assigner_.assignWindows(record, timestamp, context, windows_); }) {
      assigner_.assignWindows(record, timestamp, context, windows_);
    } else {
      assigner_.assignWindows(timestamp, context, windows_);
    }
  }

  void processElement(const T& record, int64_t timestamp) {
    assignWindows(record, timestamp);
    const K& key = keyed_.setCurrentKey(selector_(record));
    if (windows_.size() > 1)
      prefetchContents();
    bool skipped = true;
    for (const W& window : windows_) {
      if (isWindowLate(window))
        continue;
      skipped = false;
      setWindow(window);
      // A window that held contents already has its timers: its first element registered
      // them, and with a default trigger only the window's cleanup removes them (with its
      // contents). Registering them again would be a timer index lookup per element and
      // window, each a likely cache miss.
      const bool timersRegistered = contents_.add(record, timestamp) && windowTimersFollowContents_;
      if (timersRegistered)
        triggerContext_->setRegisteredTimer(window.maxTimestamp());
      TriggerResult result = trigger_->onElement(record, timestamp, window, *triggerContext_);
      triggerContext_->clearRegisteredTimer();
      if (isFire(result))
        emit(key, window);
      if (isPurge(result))
        contents_.clear();
      if (!timersRegistered)
        registerCleanupTimer(window);
    }
    if (skipped)
      sideOutputIfLate(record, timestamp);
  }

  /// Starts loading the current key's contents of every assigned window: their lookups then
  /// overlap rather than wait for memory one after another.
  void prefetchContents() {
    for (const W& window : windows_) {
      scratchBytes_.clear();
      brook::serialize(window, scratchBytes_);
      contents_.prefetch(scratchBytes_.view());
    }
  }

  /// processElement for merging windows, as Flink's WindowOperator with a MergingWindowSet.
  void processMergingElement(const T& record, int64_t timestamp) {
    assignWindows(record, timestamp);
    const K& key = keyed_.setCurrentKey(selector_(record));
    mergingWindows_.load(*mergingState_);
    bool skipped = true;
    for (const W& window : windows_) {
      const W actualWindow = mergingWindows_.addWindow(
          window, [&](const W& mergeResult, std::span<const W> mergedWindows,
                      const W& stateWindowResult, std::span<const W> mergedStateWindows) {
            mergeWindows(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows);
          });
      // A window already past its cleanup time is dropped.
      if (isWindowLate(actualWindow)) {
        mergingWindows_.retireWindow(actualWindow);
        continue;
      }
      skipped = false;
      const W* stateWindow = mergingWindows_.stateWindow(actualWindow);
      if (stateWindow == nullptr)
        throw std::logic_error("a merged window is not in the in-flight window set");
      setWindow(actualWindow, stateWindow);
      contents_.add(record, timestamp);
      TriggerResult result =
          trigger_->onElement(record, timestamp, actualWindow, *triggerContext_);
      if (isFire(result))
        emit(key, actualWindow);
      if (isPurge(result))
        contents_.clear();
      registerCleanupTimer(actualWindow);
    }
    mergingWindows_.persist(*mergingState_);
    if (skipped)
      sideOutputIfLate(record, timestamp);
  }

  /// Windows `mergedWindows` became `mergeResult`: moves their trigger state and timers to it
  /// and the contents of `mergedStateWindows` into `stateWindowResult`.
  void mergeWindows(const W& mergeResult, std::span<const W> mergedWindows,
                    const W& stateWindowResult, std::span<const W> mergedStateWindows) {
    InternalTimerService& timers = keyed_.timers();
    if (assigner_.isEventTime() && cleanupTime(mergeResult) <= timers.currentWatermark()) {
      throw std::logic_error("merging made event-time window [" +
                             std::to_string(mergeResult.start) + ", " +
                             std::to_string(mergeResult.end) + ") end before the watermark " +
                             std::to_string(timers.currentWatermark()));
    }
    mergedNamespaces_.resize(mergedWindows.size());
    for (size_t i = 0; i < mergedWindows.size(); ++i) {
      DataOutput& bytes = scratchBytes_;
      bytes.clear();
      brook::serialize(mergedWindows[i], bytes);
      mergedNamespaces_[i].assign(bytes.view().data(), bytes.view().size());
    }
    setWindow(mergeResult);
    triggerContext_->setMergedNamespaces(mergedNamespaces_);
    trigger_->onMerge(mergeResult, *triggerContext_);
    triggerContext_->setMergedNamespaces({});
    for (const W& merged : mergedWindows) {
      if (merged == mergeResult)
        continue;
      setWindow(merged);
      trigger_->clear(merged, *triggerContext_);
      deleteCleanupTimer(merged);
    }
    mergedStateNamespaces_.resize(mergedStateWindows.size());
    for (size_t i = 0; i < mergedStateWindows.size(); ++i) {
      DataOutput& bytes = scratchBytes_;
      bytes.clear();
      brook::serialize(mergedStateWindows[i], bytes);
      mergedStateNamespaces_[i].assign(bytes.view().data(), bytes.view().size());
    }
    setWindow(mergeResult, &stateWindowResult);
    contents_.mergeNamespaces(stateNamespaceBytes_.view(), mergedStateNamespaces_);
  }

  /// Sends an element none of whose windows took it to the late data side output when it is
  /// later than the allowed lateness.
  void sideOutputIfLate(const T& record, int64_t timestamp) {
    if (isElementLate(timestamp) && !settings_.lateDataTag.empty()) {
      if (OutputBase* late = this->sideOutput(settings_.lateDataTag)) {
        T copy(record);
        static_cast<Output<T>*>(late)->push(std::move(copy), timestamp);
      }
    }
  }

  void onTimer(const InternalTimer& timer, TimeDomain domain) {
    const bool eventTime = domain == TimeDomain::kEventTime;
    this->callUser([&] {
      const K& key = keyed_.keyOf(timer);
      W window{};
      decodeInto(timer.stateNamespace, window);
      if constexpr (kMerging) {
        mergingWindows_.load(*mergingState_);
        const W* stateWindow = mergingWindows_.stateWindow(window);
        // A timer of a window that merged away or was cleaned up: nothing to do.
        if (stateWindow == nullptr)
          return;
        setWindow(window, stateWindow);
      } else {
        setWindow(window);
      }
      if (!contents_.empty()) {
        TriggerResult result =
            eventTime ? trigger_->onEventTime(timer.timestamp, window, *triggerContext_)
                      : trigger_->onProcessingTime(timer.timestamp, window, *triggerContext_);
        if (isFire(result))
          emit(key, window);
        if (isPurge(result))
          contents_.clear();
      }
      if (assigner_.isEventTime() == eventTime && timer.timestamp == cleanupTime(window)) {
        clearAllState(window);
        if constexpr (kMerging) {
          mergingWindows_.retireWindow(window);
          mergingWindows_.persist(*mergingState_);
        }
      }
    });
  }

  void emit(const K& key, const W& window) {
    InternalTimerService& timers = keyed_.timers();
    EvictorContext evictorContext{timers.currentProcessingTime(), timers.currentWatermark()};
    contents_.fire(window, evictorContext, [&](const std::vector<X>& values) {
      collector_.reset(this->out_, window.maxTimestamp());
      functionContext_->setWindow(&window);
      function_.process(key, *functionContext_, values, collector_);
    });
  }

  void clearAllState(const W& window) {
    contents_.clear();
    trigger_->clear(window, *triggerContext_);
    functionContext_->setWindow(&window);
    function_.clear(*functionContext_);
  }

  /// Makes `window` the namespace of window state and timers, and `stateWindow` (merging
  /// windows) that of the window contents.
  void setWindow(const W& window, const W* stateWindow = nullptr) {
    if constexpr (!kMerging && std::equality_comparable<W>) {
      // Without merging only this sets the namespaces, and consecutive elements often share a
      // window (of other keys): the tables and timers have it already.
      if (currentWindow_.has_value() && *currentWindow_ == window)
        return;
      currentWindow_ = window;
    }
    namespaceBytes_.clear();
    brook::serialize(window, namespaceBytes_);
    windowState_->setNamespace(namespaceBytes_.view());
    keyed_.timers().setCurrentNamespace(namespaceBytes_.view());
    if constexpr (kMerging) {
      if (stateWindow != nullptr) {
        stateNamespaceBytes_.clear();
        brook::serialize(*stateWindow, stateNamespaceBytes_);
        contents_.setNamespace(stateNamespaceBytes_.view());
      }
    }
  }

  /// When the window's state is removed: its end plus the allowed lateness in event time (never
  /// when that overflows), its end in processing time.
  int64_t cleanupTime(const W& window) const {
    const int64_t end = window.maxTimestamp();
    if (!assigner_.isEventTime())
      return end;
    return end > INT64_MAX - settings_.allowedLateness ? INT64_MAX
                                                       : end + settings_.allowedLateness;
  }
  void registerCleanupTimer(const W& window) {
    const int64_t time = cleanupTime(window);
    if (time == INT64_MAX)
      return;
    if (assigner_.isEventTime()) {
      keyed_.timers().registerEventTimeTimer(time);
    } else {
      keyed_.timers().registerProcessingTimeTimer(time);
    }
  }
  /// Deletes the cleanup timer of the current window (set by setWindow).
  void deleteCleanupTimer(const W& window) {
    const int64_t time = cleanupTime(window);
    if (time == INT64_MAX)
      return;
    if (assigner_.isEventTime()) {
      keyed_.timers().deleteEventTimeTimer(time);
    } else {
      keyed_.timers().deleteProcessingTimeTimer(time);
    }
  }
  /// Whether the watermark has passed the window's cleanup time (event time only).
  bool isWindowLate(const W& window) {
    return assigner_.isEventTime() && cleanupTime(window) <= keyed_.timers().currentWatermark();
  }
  /// Whether an element is later than the allowed lateness (event time only).
  bool isElementLate(int64_t timestamp) {
    if (!assigner_.isEventTime() || timestamp > INT64_MAX - settings_.allowedLateness)
      return false;
    return timestamp + settings_.allowedLateness <= keyed_.timers().currentWatermark();
  }

  KeySelector selector_;
  Assigner assigner_;
  WindowSettings<T, W> settings_;
  Contents contents_;
  Function function_;
  KeyedOperatorSupport<K> keyed_;
  std::unique_ptr<ErasedTrigger<T, W>> trigger_;
  // Whether a window's timers exist once it holds contents (see processElement): a
  // non-merging assigner whose default trigger's timer domain is the assigner's.
  bool windowTimersFollowContents_ = false;
  std::optional<KeyedStateStore> windowState_;
  std::optional<KeyedStateStore> globalState_;
  std::optional<OnMergeContext> triggerContext_;
  std::optional<FunctionContext> functionContext_;
  std::vector<W> windows_;
  // Non-merging: the window whose namespace the window state, contents and timers have.
  std::optional<W> currentWindow_;
  DataOutput namespaceBytes_;
  TimestampedCollector<OUT> collector_;
  // Merging windows only.
  MergingWindowSet<W, Assigner> mergingWindows_;
  ListState<std::pair<W, W>>* mergingState_ = nullptr;
  DataOutput stateNamespaceBytes_;
  DataOutput scratchBytes_;
  std::vector<std::string> mergedNamespaces_;
  std::vector<std::string> mergedStateNamespaces_;
};

}  // namespace brook::internal
