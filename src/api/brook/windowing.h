#pragma once

/// Windows on keyed streams, as Flink's: windows (TimeWindow, GlobalWindow), window assigners
/// (tumbling, sliding, global, and merging session windows), triggers that decide when a
/// window's contents are evaluated, evictors that drop elements before or after evaluation, and
/// ProcessWindowFunction.
///
///   stream.keyBy(key)
///       .window(TumblingEventTimeWindows::of(std::chrono::seconds(5)))
///       .allowedLateness(std::chrono::seconds(1))
///       .reduce([](Sale a, const Sale& b) { a.amount += b.amount; return a; });
///
///   // A session per user that ends after 30 minutes without clicks.
///   clicks.keyBy(user)
///       .window(EventTimeSessionWindows::withGap(std::chrono::minutes(30)))
///       .aggregate(CountClicks{});
///
/// A window is the namespace of its contents in the keyed state backend, so window contents
/// and per-window state are snapshotted with the operator's other keyed state. Triggers,
/// evictors and assigners are values copied into each parallel instance.

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <brook/functions.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/internal/timer_service.h>
#include <brook/operator.h>
#include <brook/process_function.h>
#include <brook/serializer.h>
#include <brook/state.h>

namespace brook {

// ----------------------------------------------------------------------------------------------
// Windows

/// A half-open interval of event or processing time [start, end).
struct TimeWindow {
  int64_t start = 0;
  int64_t end = 0;

  /// The largest timestamp that still belongs to the window.
  int64_t maxTimestamp() const { return end - 1; }
  bool intersects(const TimeWindow& o) const { return start <= o.end && end >= o.start; }
  TimeWindow cover(const TimeWindow& o) const {
    return TimeWindow{std::min(start, o.start), std::max(end, o.end)};
  }
  bool operator==(const TimeWindow&) const = default;
  auto operator<=>(const TimeWindow&) const = default;

  /// The start of the window of `size` (shifted by `offset`) that holds `timestamp`, as
  /// Flink's TimeWindow.getWindowStartWithOffset.
  static int64_t windowStartWithOffset(int64_t timestamp, int64_t offset, int64_t size) {
    const int64_t remainder = (timestamp - offset) % size;
    return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
  }
};

/// The one window of GlobalWindows, which holds every element of a key.
struct GlobalWindow {
  int64_t maxTimestamp() const { return INT64_MAX; }
  bool operator==(const GlobalWindow&) const = default;
};

template <>
struct TypeSerializer<TimeWindow> {
  static void serialize(const TimeWindow& w, DataOutput& out) {
    out.writeRaw<int64_t>(w.start);
    out.writeRaw<int64_t>(w.end);
  }
  static void deserialize(DataInput& in, TimeWindow& w) {
    w.start = in.readRaw<int64_t>();
    w.end = in.readRaw<int64_t>();
  }
};

/// One zero byte, as Flink's, so that the global window differs from the default namespace.
template <>
struct TypeSerializer<GlobalWindow> {
  static void serialize(const GlobalWindow&, DataOutput& out) { out.writeRaw<uint8_t>(0); }
  static void deserialize(DataInput& in, GlobalWindow&) { (void)in.readRaw<uint8_t>(); }
};

/// A value with the timestamp of its record (kNoTimestamp when it had none): what evictors see.
template <typename T>
struct TimestampedValue {
  T value{};
  int64_t timestamp = kNoTimestamp;
  bool hasTimestamp() const { return timestamp != kNoTimestamp; }
};

template <typename T>
struct TypeSerializer<TimestampedValue<T>> {
  static void serialize(const TimestampedValue<T>& v, DataOutput& out) {
    brook::serialize(v.value, out);
    out.writeRaw<int64_t>(v.timestamp);
  }
  static void deserialize(DataInput& in, TimestampedValue<T>& v) {
    brook::deserialize(in, v.value);
    v.timestamp = in.readRaw<int64_t>();
  }
};

// ----------------------------------------------------------------------------------------------
// Keyed state in a namespace

namespace internal {

/// The accumulators of an aggregating state (AggregatingState shows only results), read and
/// written in the table's current namespace on either backend. Merging windows need them.
template <typename ACC>
class AccumulatorTable {
 public:
  explicit AccumulatorTable(KeyedStateTable* table)
      : heap_(dynamic_cast<HeapValueTable<ACC>*>(table)),
        store_(dynamic_cast<StoreValueTable<ACC>*>(table)) {
    if (heap_ == nullptr && store_ == nullptr) {
      throw StateException("aggregating state '" + (table ? table->name() : std::string()) +
                           "' cannot be merged: it is not a plain accumulator table (merging "
                           "states must not have a time-to-live)");
    }
  }
  std::optional<ACC> get() { return heap_ != nullptr ? heap_->get() : store_->get(); }
  void put(ACC acc) {
    if (heap_ != nullptr) {
      heap_->put(std::move(acc));
    } else {
      store_->put(acc);
    }
  }
  void remove() {
    if (heap_ != nullptr) {
      heap_->remove();
    } else {
      store_->remove();
    }
  }

 private:
  HeapValueTable<ACC>* heap_;
  StoreValueTable<ACC>* store_;
};

/// Moves the current key's entries of `state` (whose table is `table`) from the namespaces
/// `sources` into `target`, as Flink's InternalMergingState.mergeNamespaces: list elements are
/// appended after the target's in the order of `sources`, reduced values are reduced into the
/// target's. Leaves the table in `target`.
template <typename S>
void mergeNamespaces(S& state, KeyedStateTable& table, std::string_view target,
                     std::span<const std::string> sources) {
  for (const std::string& source : sources) {
    if (source == target)
      continue;
    table.setCurrentNamespace(source);
    auto contents = state.get();
    bool present;
    if constexpr (requires { contents.has_value(); }) {
      present = contents.has_value();
    } else {
      present = !contents.empty();
    }
    if (!present)
      continue;
    state.clear();
    table.setCurrentNamespace(target);
    if constexpr (requires { contents.has_value(); }) {
      state.add(std::move(*contents));
    } else {
      state.addAll(std::move(contents));
    }
  }
  table.setCurrentNamespace(target);
}

/// mergeNamespaces for the accumulators of an aggregating state: the target's accumulator is
/// merged with each source's by `function.merge`, in the order of `sources`.
template <typename ACC, typename AF>
void mergeAccumulatorNamespaces(KeyedStateTable& table, const AF& function,
                                std::string_view target, std::span<const std::string> sources) {
  AccumulatorTable<ACC> accumulators(&table);
  table.setCurrentNamespace(target);
  std::optional<ACC> merged = accumulators.get();
  bool changed = false;
  for (const std::string& source : sources) {
    if (source == target)
      continue;
    table.setCurrentNamespace(source);
    std::optional<ACC> acc = accumulators.get();
    if (!acc.has_value())
      continue;
    accumulators.remove();
    merged = merged.has_value() ? function.merge(std::move(*merged), *acc) : std::move(acc);
    changed = true;
  }
  table.setCurrentNamespace(target);
  if (changed)
    accumulators.put(std::move(*merged));
}

}  // namespace internal

/// Keyed state of the current key in one namespace: a window's (ProcessWindowFunction's
/// windowState(), a trigger's partitioned state) or the default one (globalState()). A state
/// name belongs to one of the two scopes of an operator; using it in both throws
/// StateException. Owned by the window operator; used on the task's thread.
class KeyedStateStore {
 public:
  explicit KeyedStateStore(internal::KeyedStateBackend* backend) : backend_(backend) {}
  KeyedStateStore(const KeyedStateStore&) = delete;
  KeyedStateStore& operator=(const KeyedStateStore&) = delete;

  template <typename T>
  ValueState<T>& getState(const ValueStateDescriptor<T>& d) {
    return scoped(backend_->getState(d), d.name());
  }
  template <typename T>
  ListState<T>& getListState(const ListStateDescriptor<T>& d) {
    return scoped(backend_->getListState(d), d.name());
  }
  template <typename K, typename V>
  MapState<K, V>& getMapState(const MapStateDescriptor<K, V>& d) {
    return scoped(backend_->getMapState(d), d.name());
  }
  template <typename T>
  ReducingState<T>& getReducingState(const ReducingStateDescriptor<T>& d) {
    return scoped(backend_->getReducingState(d), d.name());
  }
  template <typename IN, typename ACC, typename OUT>
  AggregatingState<IN, OUT>& getAggregatingState(const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
    return scoped(backend_->getAggregatingState(d), d.name());
  }

  /// Moves the current key's entries of the state `d` from the namespaces `sources` into this
  /// scope's namespace (see internal::mergeNamespaces).
  template <typename T>
  void mergeNamespaces(const ReducingStateDescriptor<T>& d, std::span<const std::string> sources) {
    internal::mergeNamespaces(getReducingState(d), *backend_->findTable(d.name()), namespace_,
                              sources);
  }
  template <typename T>
  void mergeNamespaces(const ListStateDescriptor<T>& d, std::span<const std::string> sources) {
    internal::mergeNamespaces(getListState(d), *backend_->findTable(d.name()), namespace_,
                              sources);
  }
  template <typename IN, typename ACC, typename OUT>
  void mergeNamespaces(const AggregatingStateDescriptor<IN, ACC, OUT>& d,
                       std::span<const std::string> sources) {
    getAggregatingState(d);
    internal::mergeAccumulatorNamespaces<ACC>(*backend_->findTable(d.name()),
                                              d.aggregateFunction(), namespace_, sources);
  }

  /// Makes `serializedNamespace` the namespace of every state of this scope.
  void setNamespace(std::string_view serializedNamespace) {
    namespace_.assign(serializedNamespace.data(), serializedNamespace.size());
    for (internal::KeyedStateTable* t : tables_)
      t->setCurrentNamespace(namespace_);
  }
  /// The other scope of the operator, whose state names this one may not use.
  void setOther(const KeyedStateStore* other) { other_ = other; }
  /// Adds an already registered state (the window contents) to this scope.
  void adopt(const std::string& name) { scopedTable(name); }

 private:
  bool owns(const internal::KeyedStateTable* t) const {
    return std::find(tables_.begin(), tables_.end(), t) != tables_.end();
  }
  internal::KeyedStateTable* scopedTable(const std::string& name) {
    internal::KeyedStateTable* t = backend_->findTable(name);
    if (t == nullptr)
      throw StateException("window state '" + name + "' is not registered");
    if (!owns(t)) {
      if (other_ != nullptr && other_->owns(t)) {
        throw StateException("state '" + name + "' of operator '" +
                             backend_->operatorDescription() +
                             "' is used as both per-window and global state");
      }
      tables_.push_back(t);
      t->setCurrentNamespace(namespace_);
    }
    return t;
  }
  template <typename S>
  S& scoped(S& state, const std::string& name) {
    scopedTable(name);
    return state;
  }

  internal::KeyedStateBackend* backend_;
  const KeyedStateStore* other_ = nullptr;
  std::string namespace_;
  std::vector<internal::KeyedStateTable*> tables_;
};

// ----------------------------------------------------------------------------------------------
// Assigners

/// What an assigner may read besides the element's timestamp.
struct WindowAssignerContext {
  int64_t currentProcessingTime = 0;
};

namespace internal {
[[noreturn]] inline void throwNoTimestamp() {
  throw std::runtime_error(
      "a record without a timestamp reached an event-time window: assign timestamps at the "
      "source or with a WatermarkStrategy, or use a processing-time window");
}
inline int64_t millisOf(std::chrono::milliseconds d) { return d.count(); }
}  // namespace internal

class EventTimeTrigger;
class ProcessingTimeTrigger;
class NeverTrigger;

/// Windows of `size`, one after the other, in event time; `offset` shifts their starts (for
/// time zones), as Flink's TumblingEventTimeWindows.
class TumblingEventTimeWindows {
 public:
  using WindowType = TimeWindow;
  static TumblingEventTimeWindows of(std::chrono::milliseconds size,
                                     std::chrono::milliseconds offset = {}) {
    return TumblingEventTimeWindows(size.count(), offset.count());
  }
  void assignWindows(int64_t timestamp, const WindowAssignerContext&,
                     std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp)
      internal::throwNoTimestamp();
    int64_t start = TimeWindow::windowStartWithOffset(timestamp, offset_ % size_, size_);
    windows.push_back(TimeWindow{start, start + size_});
  }
  bool isEventTime() const { return true; }
  EventTimeTrigger defaultTrigger() const;
  /// Empty when the parameters are valid, else what is wrong with them.
  std::string validate() const {
    if (size_ <= 0)
      return "window size must be positive, got " + std::to_string(size_) + " ms";
    if (offset_ >= size_ || offset_ <= -size_)
      return "window offset must satisfy abs(offset) < size";
    return {};
  }
  std::string description() const { return "TumblingEventTimeWindows(" + std::to_string(size_) + ")"; }
  int64_t size() const { return size_; }
  int64_t offset() const { return offset_; }

 protected:
  TumblingEventTimeWindows(int64_t size, int64_t offset) : size_(size), offset_(offset) {}
  int64_t size_;
  int64_t offset_;
};

/// Tumbling windows of processing time: an element belongs to the window of the time it
/// arrives.
class TumblingProcessingTimeWindows : private TumblingEventTimeWindows {
 public:
  using WindowType = TimeWindow;
  static TumblingProcessingTimeWindows of(std::chrono::milliseconds size,
                                          std::chrono::milliseconds offset = {}) {
    return TumblingProcessingTimeWindows(size.count(), offset.count());
  }
  void assignWindows(int64_t, const WindowAssignerContext& ctx,
                     std::vector<TimeWindow>& windows) const {
    TumblingEventTimeWindows::assignWindows(ctx.currentProcessingTime, ctx, windows);
  }
  bool isEventTime() const { return false; }
  ProcessingTimeTrigger defaultTrigger() const;
  using TumblingEventTimeWindows::validate;
  std::string description() const {
    return "TumblingProcessingTimeWindows(" + std::to_string(size_) + ")";
  }

 private:
  TumblingProcessingTimeWindows(int64_t size, int64_t offset)
      : TumblingEventTimeWindows(size, offset) {}
};

/// Windows of `size` starting every `slide`, so that each element belongs to size/slide of
/// them, in event time, as Flink's SlidingEventTimeWindows.
class SlidingEventTimeWindows {
 public:
  using WindowType = TimeWindow;
  static SlidingEventTimeWindows of(std::chrono::milliseconds size,
                                    std::chrono::milliseconds slide,
                                    std::chrono::milliseconds offset = {}) {
    return SlidingEventTimeWindows(size.count(), slide.count(), offset.count());
  }
  void assignWindows(int64_t timestamp, const WindowAssignerContext&,
                     std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp)
      internal::throwNoTimestamp();
    int64_t lastStart = TimeWindow::windowStartWithOffset(timestamp, offset_, slide_);
    for (int64_t start = lastStart; start > timestamp - size_; start -= slide_)
      windows.push_back(TimeWindow{start, start + size_});
  }
  bool isEventTime() const { return true; }
  EventTimeTrigger defaultTrigger() const;
  std::string validate() const {
    if (size_ <= 0)
      return "window size must be positive, got " + std::to_string(size_) + " ms";
    if (slide_ <= 0)
      return "window slide must be positive, got " + std::to_string(slide_) + " ms";
    if (slide_ > size_) {
      return "window slide (" + std::to_string(slide_) + " ms) must not exceed the size (" +
             std::to_string(size_) + " ms)";
    }
    if (offset_ >= slide_ || offset_ <= -slide_)
      return "window offset must satisfy abs(offset) < slide";
    return {};
  }
  std::string description() const {
    return "SlidingEventTimeWindows(" + std::to_string(size_) + ", " + std::to_string(slide_) +
           ")";
  }
  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }

 protected:
  SlidingEventTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : size_(size), slide_(slide), offset_(offset) {}
  int64_t size_;
  int64_t slide_;
  int64_t offset_;
};

/// Sliding windows of processing time.
class SlidingProcessingTimeWindows : private SlidingEventTimeWindows {
 public:
  using WindowType = TimeWindow;
  static SlidingProcessingTimeWindows of(std::chrono::milliseconds size,
                                         std::chrono::milliseconds slide,
                                         std::chrono::milliseconds offset = {}) {
    return SlidingProcessingTimeWindows(size.count(), slide.count(), offset.count());
  }
  void assignWindows(int64_t, const WindowAssignerContext& ctx,
                     std::vector<TimeWindow>& windows) const {
    SlidingEventTimeWindows::assignWindows(ctx.currentProcessingTime, ctx, windows);
  }
  bool isEventTime() const { return false; }
  ProcessingTimeTrigger defaultTrigger() const;
  using SlidingEventTimeWindows::validate;
  std::string description() const {
    return "SlidingProcessingTimeWindows(" + std::to_string(size_) + ", " +
           std::to_string(slide_) + ")";
  }

 private:
  SlidingProcessingTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : SlidingEventTimeWindows(size, slide, offset) {}
};

/// One window per key holding all its elements; its default trigger never fires, so it needs
/// a trigger (countWindow sets CountTrigger).
class GlobalWindows {
 public:
  using WindowType = GlobalWindow;
  static GlobalWindows create() { return GlobalWindows(); }
  void assignWindows(int64_t, const WindowAssignerContext&,
                     std::vector<GlobalWindow>& windows) const {
    windows.push_back(GlobalWindow{});
  }
  bool isEventTime() const { return false; }
  NeverTrigger defaultTrigger() const;
  std::string validate() const { return {}; }
  std::string description() const { return "GlobalWindows()"; }
};

// ----------------------------------------------------------------------------------------------
// Merging assigners (session windows)

/// What a merging assigner found when it merged a set of windows: each resulting window and
/// the two or more windows it covers, as the calls of Flink's MergeCallback. Reused across
/// calls, so merging allocates nothing once warm.
template <typename W>
class WindowMerges {
 public:
  void clear() {
    results_.clear();
    ends_.clear();
    merged_.clear();
  }
  /// Records that `merged` became `result`.
  void add(const W& result, std::span<const W> merged) {
    results_.push_back(result);
    merged_.insert(merged_.end(), merged.begin(), merged.end());
    ends_.push_back(merged_.size());
  }
  size_t size() const { return results_.size(); }
  bool empty() const { return results_.empty(); }
  const W& result(size_t i) const { return results_[i]; }
  std::span<const W> merged(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::span<const W>(merged_).subspan(begin, ends_[i] - begin);
  }

 private:
  std::vector<W> results_;
  std::vector<size_t> ends_;
  std::vector<W> merged_;
};

namespace internal {
/// Merges overlapping (or touching) windows into their cover, as Flink's
/// TimeWindow.mergeWindows: sorts `windows` by start and records every group of two or more.
inline void mergeTimeWindows(std::vector<TimeWindow>& windows, WindowMerges<TimeWindow>& merges) {
  merges.clear();
  std::sort(windows.begin(), windows.end(),
            [](const TimeWindow& a, const TimeWindow& b) { return a.start < b.start; });
  size_t groupStart = 0;
  TimeWindow cover{};
  for (size_t i = 0; i <= windows.size(); ++i) {
    if (i < windows.size() && i > groupStart && cover.intersects(windows[i])) {
      cover = cover.cover(windows[i]);
      continue;
    }
    if (i - groupStart > 1)
      merges.add(cover, std::span<const TimeWindow>(windows).subspan(groupStart, i - groupStart));
    if (i < windows.size()) {
      groupStart = i;
      cover = windows[i];
    }
  }
}

/// The end of a session window starting at `start`, saturating at the end of time.
inline int64_t sessionEnd(int64_t start, int64_t gap) {
  return start > INT64_MAX - gap ? INT64_MAX : start + gap;
}

/// A dynamic session gap in milliseconds: an extractor returns a std::chrono duration or a
/// number of milliseconds.
template <typename G>
int64_t gapMillis(const G& gap) {
  if constexpr (requires { std::chrono::duration_cast<std::chrono::milliseconds>(gap); }) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(gap).count();
  } else {
    static_assert(std::is_integral_v<G>,
                  "Brook: a session gap extractor returns a std::chrono duration or int64_t "
                  "milliseconds");
    return static_cast<int64_t>(gap);
  }
}

[[noreturn]] inline void throwBadDynamicGap(const char* assigner, int64_t gap) {
  throw std::runtime_error(std::string(assigner) +
                           ": the session gap extracted from an element must be positive, got " +
                           std::to_string(gap) + " ms");
}

/// What the session assigners share: the gap, its check, and merging.
class SessionWindowsBase {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = true;
  std::string validate() const {
    if (gap_ <= 0)
      return "session gap must be positive, got " + std::to_string(gap_) + " ms";
    return {};
  }
  void mergeWindows(std::vector<TimeWindow>& windows, WindowMerges<TimeWindow>& merges) const {
    mergeTimeWindows(windows, merges);
  }
  int64_t gap() const { return gap_; }

 protected:
  explicit SessionWindowsBase(int64_t gap) : gap_(gap) {}
  int64_t gap_;
};
}  // namespace internal

template <typename F>
class DynamicEventTimeSessionWindows;
template <typename F>
class DynamicProcessingTimeSessionWindows;

/// Session windows in event time, as Flink's EventTimeSessionWindows: each element opens a
/// window [timestamp, timestamp + gap), and the windows of a key that overlap or touch merge
/// into one session, so a session ends once its key has been quiet for `gap`. Contents of
/// merged windows are merged (AggregateFunction::merge for aggregate); triggers must support
/// merging.
class EventTimeSessionWindows : public internal::SessionWindowsBase {
 public:
  static EventTimeSessionWindows withGap(std::chrono::milliseconds gap) {
    return EventTimeSessionWindows(gap.count());
  }
  /// Sessions whose gap `extractor(element)` chooses per element, as Flink's
  /// SessionWindowTimeGapExtractor: it returns a std::chrono duration or int64_t milliseconds,
  /// which must be positive (else the job fails naming the gap).
  template <typename F>
  static DynamicEventTimeSessionWindows<F> withDynamicGap(F extractor);

  void assignWindows(int64_t timestamp, const WindowAssignerContext&,
                     std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp)
      internal::throwNoTimestamp();
    windows.push_back(TimeWindow{timestamp, internal::sessionEnd(timestamp, gap_)});
  }
  bool isEventTime() const { return true; }
  EventTimeTrigger defaultTrigger() const;
  std::string description() const {
    return "EventTimeSessionWindows(" + std::to_string(gap_) + ")";
  }

 private:
  explicit EventTimeSessionWindows(int64_t gap) : SessionWindowsBase(gap) {}
};

/// Session windows in processing time: an element opens [now, now + gap).
class ProcessingTimeSessionWindows : public internal::SessionWindowsBase {
 public:
  static ProcessingTimeSessionWindows withGap(std::chrono::milliseconds gap) {
    return ProcessingTimeSessionWindows(gap.count());
  }
  /// Sessions whose gap `extractor(element)` chooses per element (see
  /// EventTimeSessionWindows::withDynamicGap).
  template <typename F>
  static DynamicProcessingTimeSessionWindows<F> withDynamicGap(F extractor);

  void assignWindows(int64_t, const WindowAssignerContext& ctx,
                     std::vector<TimeWindow>& windows) const {
    const int64_t now = ctx.currentProcessingTime;
    windows.push_back(TimeWindow{now, internal::sessionEnd(now, gap_)});
  }
  bool isEventTime() const { return false; }
  ProcessingTimeTrigger defaultTrigger() const;
  std::string description() const {
    return "ProcessingTimeSessionWindows(" + std::to_string(gap_) + ")";
  }

 private:
  explicit ProcessingTimeSessionWindows(int64_t gap) : SessionWindowsBase(gap) {}
};

/// Event-time sessions with a gap per element, as Flink's DynamicEventTimeSessionWindows.
template <typename F>
class DynamicEventTimeSessionWindows {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = true;
  explicit DynamicEventTimeSessionWindows(F extractor) : extractor_(std::move(extractor)) {}

  template <typename T>
  requires std::invocable<const F&, const T&>
  void assignWindows(const T& element, int64_t timestamp, const WindowAssignerContext&,
                     std::vector<TimeWindow>& windows) const {
    if (timestamp == kNoTimestamp)
      internal::throwNoTimestamp();
    const int64_t gap = internal::gapMillis(extractor_(element));
    if (gap <= 0)
      internal::throwBadDynamicGap("DynamicEventTimeSessionWindows", gap);
    windows.push_back(TimeWindow{timestamp, internal::sessionEnd(timestamp, gap)});
  }
  void mergeWindows(std::vector<TimeWindow>& windows, WindowMerges<TimeWindow>& merges) const {
    internal::mergeTimeWindows(windows, merges);
  }
  bool isEventTime() const { return true; }
  EventTimeTrigger defaultTrigger() const;
  std::string validate() const { return {}; }
  std::string description() const { return "DynamicEventTimeSessionWindows()"; }

 private:
  F extractor_;
};

/// Processing-time sessions with a gap per element, as Flink's
/// DynamicProcessingTimeSessionWindows.
template <typename F>
class DynamicProcessingTimeSessionWindows {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = true;
  explicit DynamicProcessingTimeSessionWindows(F extractor) : extractor_(std::move(extractor)) {}

  template <typename T>
  requires std::invocable<const F&, const T&>
  void assignWindows(const T& element, int64_t, const WindowAssignerContext& ctx,
                     std::vector<TimeWindow>& windows) const {
    const int64_t gap = internal::gapMillis(extractor_(element));
    if (gap <= 0)
      internal::throwBadDynamicGap("DynamicProcessingTimeSessionWindows", gap);
    const int64_t now = ctx.currentProcessingTime;
    windows.push_back(TimeWindow{now, internal::sessionEnd(now, gap)});
  }
  void mergeWindows(std::vector<TimeWindow>& windows, WindowMerges<TimeWindow>& merges) const {
    internal::mergeTimeWindows(windows, merges);
  }
  bool isEventTime() const { return false; }
  ProcessingTimeTrigger defaultTrigger() const;
  std::string validate() const { return {}; }
  std::string description() const { return "DynamicProcessingTimeSessionWindows()"; }

 private:
  F extractor_;
};

template <typename F>
DynamicEventTimeSessionWindows<F> EventTimeSessionWindows::withDynamicGap(F extractor) {
  return DynamicEventTimeSessionWindows<F>(std::move(extractor));
}
template <typename F>
DynamicProcessingTimeSessionWindows<F> ProcessingTimeSessionWindows::withDynamicGap(F extractor) {
  return DynamicProcessingTimeSessionWindows<F>(std::move(extractor));
}

/// What every window assigner provides (the classes above are the built-in ones).
template <typename A>
concept WindowAssignerType = requires(const A& a) {
  typename A::WindowType;
  { a.isEventTime() } -> std::convertible_to<bool>;
  a.defaultTrigger();
  { a.validate() } -> std::convertible_to<std::string>;
  { a.description() } -> std::convertible_to<std::string>;
};

/// A window assigner for elements of type T: it assigns windows from the timestamp alone, or
/// from the element too (dynamic session gaps).
template <typename A, typename T>
concept WindowAssignerFor =
    WindowAssignerType<A> &&
    (requires(const A& a, int64_t ts, const WindowAssignerContext& c,
              std::vector<typename A::WindowType>& out) { a.assignWindows(ts, c, out); } ||
     requires(const A& a, const T& element, int64_t ts, const WindowAssignerContext& c,
              std::vector<typename A::WindowType>& out) {
       a.assignWindows(element, ts, c, out);
     });

/// A merging window assigner (session windows), as Flink's MergingWindowAssigner: its windows
/// of a key merge as they overlap, through `mergeWindows`. The window operator takes its
/// merging path at compile time from `kMerging`.
template <typename A>
concept MergingWindowAssigner =
    WindowAssignerType<A> && requires { { A::kMerging } -> std::convertible_to<bool>; } &&
    A::kMerging &&
    requires(const A& a, std::vector<typename A::WindowType>& windows,
             WindowMerges<typename A::WindowType>& merges) { a.mergeWindows(windows, merges); };

// ----------------------------------------------------------------------------------------------
// Triggers

/// What a trigger decides: whether to evaluate the window (FIRE) and whether to clear its
/// contents (PURGE).
enum class TriggerResult { kContinue, kFire, kPurge, kFireAndPurge };

inline bool isFire(TriggerResult r) {
  return r == TriggerResult::kFire || r == TriggerResult::kFireAndPurge;
}
inline bool isPurge(TriggerResult r) {
  return r == TriggerResult::kPurge || r == TriggerResult::kFireAndPurge;
}

/// A trigger's view of the operator: timers and state of the current key and window. Timers
/// are per key and window; the trigger's state is per key and window too.
class TriggerContext {
 public:
  TriggerContext(internal::InternalTimerService* timers, KeyedStateStore* windowState)
      : timers_(timers), windowState_(windowState) {}

  int64_t getCurrentProcessingTime() const { return timers_->currentProcessingTime(); }
  int64_t getCurrentWatermark() const { return timers_->currentWatermark(); }
  void registerEventTimeTimer(int64_t time) {
    if (registeredTimer_ != time)
      timers_->registerEventTimeTimer(time);
  }
  void deleteEventTimeTimer(int64_t time) { timers_->deleteEventTimeTimer(time); }
  /// Ignored once the input has ended: processing time has then reached the end of time, and
  /// the remaining timers are being fired.
  void registerProcessingTimeTimer(int64_t time) {
    if (!inputEnded_ && registeredTimer_ != time)
      timers_->registerProcessingTimeTimer(time);
  }
  void deleteProcessingTimeTimer(int64_t time) { timers_->deleteProcessingTimeTimer(time); }

  /// The trigger's state of the current key and window.
  KeyedStateStore& partitionedState() { return *windowState_; }
  template <typename T>
  ValueState<T>& getState(const ValueStateDescriptor<T>& d) { return windowState_->getState(d); }
  template <typename T>
  ReducingState<T>& getReducingState(const ReducingStateDescriptor<T>& d) {
    return windowState_->getReducingState(d);
  }
  template <typename T>
  ListState<T>& getListState(const ListStateDescriptor<T>& d) {
    return windowState_->getListState(d);
  }

  void setInputEnded() { inputEnded_ = true; }
  /// For the window operator: the current window's timer at `time` exists (in the domain of
  /// the trigger, a default one), so registering it is skipped until clearRegisteredTimer.
  void setRegisteredTimer(int64_t time) { registeredTimer_ = time; }
  void clearRegisteredTimer() { registeredTimer_.reset(); }

 private:
  internal::InternalTimerService* timers_;
  KeyedStateStore* windowState_;
  bool inputEnded_ = false;
  std::optional<int64_t> registeredTimer_;
};

/// A trigger's view of the operator while windows merge (Trigger::onMerge), as Flink's
/// OnMergeContext: the current window is the merge result, and `mergePartitionedState` moves
/// the trigger's state of the merged windows into it.
class OnMergeContext : public TriggerContext {
 public:
  using TriggerContext::TriggerContext;

  /// Merges the state `d` of the windows being merged into the result window's: reducing
  /// state is reduced, list state appended, aggregating state merged with the function's
  /// `merge`.
  template <typename D>
  void mergePartitionedState(const D& d) {
    if (!mergedNamespaces_.empty())
      partitionedState().mergeNamespaces(d, mergedNamespaces_);
  }

  /// The serialized windows being merged (set by the window operator around onMerge).
  void setMergedNamespaces(std::span<const std::string> namespaces) {
    mergedNamespaces_ = namespaces;
  }

 private:
  std::span<const std::string> mergedNamespaces_;
};

/// The base of user triggers over elements `T` and windows `W`, as Flink's Trigger; every
/// method but onElement defaults to CONTINUE / nothing. A trigger is copied into each parallel
/// instance; what it remembers belongs in the context's partitioned state.
template <typename T, typename W>
class Trigger {
 public:
  virtual ~Trigger() = default;
  virtual TriggerResult onElement(const T& element, int64_t timestamp, const W& window,
                                  TriggerContext& ctx) = 0;
  virtual TriggerResult onEventTime(int64_t time, const W& window, TriggerContext& ctx) {
    (void)time, (void)window, (void)ctx;
    return TriggerResult::kContinue;
  }
  virtual TriggerResult onProcessingTime(int64_t time, const W& window, TriggerContext& ctx) {
    (void)time, (void)window, (void)ctx;
    return TriggerResult::kContinue;
  }
  /// Deletes the timers and state this trigger holds for `window` (it is being purged for good).
  virtual void clear(const W& window, TriggerContext& ctx) { (void)window, (void)ctx; }
  /// Whether the trigger supports merging windows (session windows need it); such a trigger
  /// implements onMerge.
  virtual bool canMerge() const { return false; }
  /// Windows merged into `window`: re-registers the trigger's timers for it and merges its
  /// state of the merged windows (OnMergeContext::mergePartitionedState).
  virtual void onMerge(const W& window, OnMergeContext& ctx) {
    (void)window, (void)ctx;
    throw std::logic_error("trigger '" + description() + "' does not support merging windows");
  }
  virtual std::string description() const { return "Trigger"; }
};

/// Fires when the watermark passes the window's end; fires at once for an element of a window
/// that the watermark has passed (a late firing within the allowed lateness).
class EventTimeTrigger {
 public:
  static EventTimeTrigger create() { return {}; }
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t, const W& window, TriggerContext& ctx) const {
    if (window.maxTimestamp() <= ctx.getCurrentWatermark())
      return TriggerResult::kFire;
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t time, const W& window, TriggerContext&) const {
    return time == window.maxTimestamp() ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  void clear(const W& window, TriggerContext& ctx) const {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
  bool canMerge() const { return true; }
  /// Registers the merged window's end unless the watermark passed it (then the next element
  /// fires it, as in onElement).
  template <typename W>
  void onMerge(const W& window, OnMergeContext& ctx) const {
    if (window.maxTimestamp() > ctx.getCurrentWatermark())
      ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  std::string description() const { return "EventTimeTrigger"; }
};

/// Fires when processing time passes the window's end.
class ProcessingTimeTrigger {
 public:
  static ProcessingTimeTrigger create() { return {}; }
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t, const W& window, TriggerContext& ctx) const {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kFire;
  }
  template <typename W>
  void clear(const W& window, TriggerContext& ctx) const {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }
  bool canMerge() const { return true; }
  template <typename W>
  void onMerge(const W& window, OnMergeContext& ctx) const {
    if (window.maxTimestamp() > ctx.getCurrentProcessingTime())
      ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }
  std::string description() const { return "ProcessingTimeTrigger"; }
};

/// Never fires: the default trigger of GlobalWindows.
class NeverTrigger {
 public:
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  void clear(const W&, TriggerContext&) const {}
  bool canMerge() const { return true; }
  template <typename W>
  void onMerge(const W&, OnMergeContext&) const {}
  std::string description() const { return "NeverTrigger"; }
};

namespace internal {
/// The built-in triggers' states, created once (a trigger looks its state up per element).
inline const ReducingStateDescriptor<int64_t>& countDescriptor() {
  static const ReducingStateDescriptor<int64_t> d(
      "count", [](const int64_t& a, const int64_t& b) { return a + b; });
  return d;
}
inline const ReducingStateDescriptor<int64_t>& fireTimeDescriptor() {
  static const ReducingStateDescriptor<int64_t> d(
      "fire-time", [](const int64_t& a, const int64_t& b) { return std::min(a, b); });
  return d;
}
}  // namespace internal

/// Fires once a window holds `maxCount` elements (counted since the last firing), as Flink's
/// CountTrigger. Its count is the window's state "count".
class CountTrigger {
 public:
  static CountTrigger of(int64_t maxCount) { return CountTrigger(maxCount); }
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t, const W&, TriggerContext& ctx) const {
    ReducingState<int64_t>& count = ctx.getReducingState(internal::countDescriptor());
    count.add(1);
    if (count.get().value_or(0) >= maxCount_) {
      count.clear();
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  void clear(const W&, TriggerContext& ctx) const {
    ctx.getReducingState(internal::countDescriptor()).clear();
  }
  bool canMerge() const { return true; }
  /// Adds up the counts of the merged windows.
  template <typename W>
  void onMerge(const W&, OnMergeContext& ctx) const {
    ctx.mergePartitionedState(internal::countDescriptor());
  }
  std::string description() const { return "CountTrigger(" + std::to_string(maxCount_) + ")"; }
  std::string validate() const {
    return maxCount_ > 0 ? std::string() : "trigger count must be positive";
  }
  int64_t maxCount() const { return maxCount_; }

 private:
  explicit CountTrigger(int64_t maxCount) : maxCount_(maxCount) {}
  int64_t maxCount_;
};

/// Fires every `interval` of event time within a window, and at its end, as Flink's
/// ContinuousEventTimeTrigger. Its next firing time is the window's state "fire-time".
class ContinuousEventTimeTrigger {
 public:
  static ContinuousEventTimeTrigger of(std::chrono::milliseconds interval) {
    return ContinuousEventTimeTrigger(interval.count());
  }
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t timestamp, const W& window,
                          TriggerContext& ctx) const {
    if (window.maxTimestamp() <= ctx.getCurrentWatermark())
      return TriggerResult::kFire;
    ctx.registerEventTimeTimer(window.maxTimestamp());
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    if (!fireTime.get().has_value() && timestamp != kNoTimestamp)
      registerNext(timestamp - (timestamp % interval_), window, ctx, fireTime);
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t time, const W& window, TriggerContext& ctx) const {
    if (time == window.maxTimestamp())
      return TriggerResult::kFire;
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    std::optional<int64_t> next = fireTime.get();
    if (next.has_value() && *next == time) {
      fireTime.clear();
      registerNext(time, window, ctx, fireTime);
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  void clear(const W&, TriggerContext& ctx) const {
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    if (std::optional<int64_t> t = fireTime.get())
      ctx.deleteEventTimeTimer(*t);
    fireTime.clear();
  }
  bool canMerge() const { return true; }
  /// Keeps the earliest next firing of the merged windows, and the merged window's end.
  template <typename W>
  void onMerge(const W& window, OnMergeContext& ctx) const {
    ctx.mergePartitionedState(internal::fireTimeDescriptor());
    if (std::optional<int64_t> next = ctx.getReducingState(internal::fireTimeDescriptor()).get())
      ctx.registerEventTimeTimer(*next);
    if (window.maxTimestamp() > ctx.getCurrentWatermark())
      ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  std::string description() const {
    return "ContinuousEventTimeTrigger(" + std::to_string(interval_) + ")";
  }
  std::string validate() const {
    return interval_ > 0 ? std::string() : "trigger interval must be positive";
  }

 private:
  explicit ContinuousEventTimeTrigger(int64_t interval) : interval_(interval) {}
  template <typename W>
  void registerNext(int64_t time, const W& window, TriggerContext& ctx,
                    ReducingState<int64_t>& fireTime) const {
    int64_t next = time > window.maxTimestamp() - interval_ ? window.maxTimestamp()
                                                            : time + interval_;
    fireTime.add(next);
    ctx.registerEventTimeTimer(next);
  }
  int64_t interval_;
};

/// Fires every `interval` of processing time while a window has elements, as Flink's
/// ContinuousProcessingTimeTrigger.
class ContinuousProcessingTimeTrigger {
 public:
  static ContinuousProcessingTimeTrigger of(std::chrono::milliseconds interval) {
    return ContinuousProcessingTimeTrigger(interval.count());
  }
  template <typename T, typename W>
  TriggerResult onElement(const T&, int64_t, const W& window, TriggerContext& ctx) const {
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    if (!fireTime.get().has_value()) {
      int64_t now = ctx.getCurrentProcessingTime();
      registerNext(now - (now % interval_), window, ctx, fireTime);
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t time, const W& window, TriggerContext& ctx) const {
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    std::optional<int64_t> next = fireTime.get();
    if (next.has_value() && *next == time) {
      fireTime.clear();
      registerNext(time, window, ctx, fireTime);
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  void clear(const W&, TriggerContext& ctx) const {
    ReducingState<int64_t>& fireTime = ctx.getReducingState(internal::fireTimeDescriptor());
    if (std::optional<int64_t> t = fireTime.get())
      ctx.deleteProcessingTimeTimer(*t);
    fireTime.clear();
  }
  bool canMerge() const { return true; }
  /// Keeps the earliest next firing of the merged windows.
  template <typename W>
  void onMerge(const W&, OnMergeContext& ctx) const {
    ctx.mergePartitionedState(internal::fireTimeDescriptor());
    if (std::optional<int64_t> next = ctx.getReducingState(internal::fireTimeDescriptor()).get())
      ctx.registerProcessingTimeTimer(*next);
  }
  std::string description() const {
    return "ContinuousProcessingTimeTrigger(" + std::to_string(interval_) + ")";
  }
  std::string validate() const {
    return interval_ > 0 ? std::string() : "trigger interval must be positive";
  }

 private:
  explicit ContinuousProcessingTimeTrigger(int64_t interval) : interval_(interval) {}
  template <typename W>
  void registerNext(int64_t time, const W& window, TriggerContext& ctx,
                    ReducingState<int64_t>& fireTime) const {
    int64_t next = time > window.maxTimestamp() - interval_ ? window.maxTimestamp()
                                                            : time + interval_;
    fireTime.add(next);
    ctx.registerProcessingTimeTimer(next);
  }
  int64_t interval_;
};

/// Turns every FIRE of `Inner` into FIRE_AND_PURGE, as Flink's PurgingTrigger.
template <typename Inner>
class PurgingTrigger {
 public:
  explicit PurgingTrigger(Inner inner) : inner_(std::move(inner)) {}
  static PurgingTrigger of(Inner inner) { return PurgingTrigger(std::move(inner)); }
  template <typename T, typename W>
  TriggerResult onElement(const T& e, int64_t ts, const W& w, TriggerContext& ctx) {
    return purging(inner_.onElement(e, ts, w, ctx));
  }
  template <typename W>
  TriggerResult onEventTime(int64_t time, const W& w, TriggerContext& ctx) {
    return purging(inner_.onEventTime(time, w, ctx));
  }
  template <typename W>
  TriggerResult onProcessingTime(int64_t time, const W& w, TriggerContext& ctx) {
    return purging(inner_.onProcessingTime(time, w, ctx));
  }
  template <typename W>
  void clear(const W& w, TriggerContext& ctx) {
    inner_.clear(w, ctx);
  }
  bool canMerge() const {
    if constexpr (requires { inner_.canMerge(); }) {
      return inner_.canMerge();
    } else {
      return false;
    }
  }
  template <typename W>
  requires requires(Inner& inner, const W& w, OnMergeContext& ctx) { inner.onMerge(w, ctx); }
  void onMerge(const W& w, OnMergeContext& ctx) {
    inner_.onMerge(w, ctx);
  }
  std::string description() const { return "PurgingTrigger(" + inner_.description() + ")"; }
  std::string validate() const {
    if constexpr (requires { inner_.validate(); }) {
      return inner_.validate();
    } else {
      return {};
    }
  }

 private:
  static TriggerResult purging(TriggerResult r) {
    return isFire(r) ? TriggerResult::kFireAndPurge : r;
  }
  Inner inner_;
};

inline EventTimeTrigger TumblingEventTimeWindows::defaultTrigger() const { return {}; }
inline ProcessingTimeTrigger TumblingProcessingTimeWindows::defaultTrigger() const { return {}; }
inline EventTimeTrigger SlidingEventTimeWindows::defaultTrigger() const { return {}; }
inline ProcessingTimeTrigger SlidingProcessingTimeWindows::defaultTrigger() const { return {}; }
inline NeverTrigger GlobalWindows::defaultTrigger() const { return {}; }
inline EventTimeTrigger EventTimeSessionWindows::defaultTrigger() const { return {}; }
inline ProcessingTimeTrigger ProcessingTimeSessionWindows::defaultTrigger() const { return {}; }
template <typename F>
EventTimeTrigger DynamicEventTimeSessionWindows<F>::defaultTrigger() const {
  return {};
}
template <typename F>
ProcessingTimeTrigger DynamicProcessingTimeSessionWindows<F>::defaultTrigger() const {
  return {};
}

// ----------------------------------------------------------------------------------------------
// Evictors

/// What an evictor may read.
struct EvictorContext {
  int64_t currentProcessingTime = 0;
  int64_t currentWatermark = kNoTimestamp;
};

/// The base of user evictors, as Flink's Evictor: they remove elements from `elements` before
/// and/or after the window function sees them.
template <typename T, typename W>
class Evictor {
 public:
  virtual ~Evictor() = default;
  virtual void evictBefore(std::vector<TimestampedValue<T>>& elements, const W& window,
                           const EvictorContext& ctx) {
    (void)elements, (void)window, (void)ctx;
  }
  virtual void evictAfter(std::vector<TimestampedValue<T>>& elements, const W& window,
                          const EvictorContext& ctx) {
    (void)elements, (void)window, (void)ctx;
  }
  virtual std::string description() const { return "Evictor"; }
};

/// Keeps the last `maxCount` elements (before the function, or after it with `doEvictAfter`).
class CountEvictor {
 public:
  static CountEvictor of(int64_t maxCount, bool doEvictAfter = false) {
    return CountEvictor(maxCount, doEvictAfter);
  }
  template <typename T, typename W>
  void evictBefore(std::vector<TimestampedValue<T>>& elements, const W&,
                   const EvictorContext&) const {
    if (!after_)
      evict(elements);
  }
  template <typename T, typename W>
  void evictAfter(std::vector<TimestampedValue<T>>& elements, const W&,
                  const EvictorContext&) const {
    if (after_)
      evict(elements);
  }
  std::string description() const { return "CountEvictor(" + std::to_string(maxCount_) + ")"; }
  std::string validate() const {
    return maxCount_ > 0 ? std::string() : "evictor count must be positive";
  }

 private:
  CountEvictor(int64_t maxCount, bool after) : maxCount_(maxCount), after_(after) {}
  template <typename T>
  void evict(std::vector<TimestampedValue<T>>& elements) const {
    if (static_cast<int64_t>(elements.size()) > maxCount_)
      elements.erase(elements.begin(), elements.end() - maxCount_);
  }
  int64_t maxCount_;
  bool after_;
};

/// Keeps the elements within `windowSize` of the newest element's timestamp, as Flink's
/// TimeEvictor (elements without timestamps are kept).
class TimeEvictor {
 public:
  static TimeEvictor of(std::chrono::milliseconds windowSize, bool doEvictAfter = false) {
    return TimeEvictor(windowSize.count(), doEvictAfter);
  }
  template <typename T, typename W>
  void evictBefore(std::vector<TimestampedValue<T>>& elements, const W&,
                   const EvictorContext&) const {
    if (!after_)
      evict(elements);
  }
  template <typename T, typename W>
  void evictAfter(std::vector<TimestampedValue<T>>& elements, const W&,
                  const EvictorContext&) const {
    if (after_)
      evict(elements);
  }
  std::string description() const { return "TimeEvictor(" + std::to_string(size_) + ")"; }
  std::string validate() const {
    return size_ > 0 ? std::string() : "evictor window size must be positive";
  }

 private:
  TimeEvictor(int64_t size, bool after) : size_(size), after_(after) {}
  template <typename T>
  void evict(std::vector<TimestampedValue<T>>& elements) const {
    if (elements.empty() || !elements.front().hasTimestamp())
      return;
    int64_t newest = INT64_MIN;
    for (const auto& e : elements)
      newest = std::max(newest, e.timestamp);
    const int64_t cutoff = newest - size_;
    std::erase_if(elements, [&](const TimestampedValue<T>& e) {
      return e.hasTimestamp() && e.timestamp <= cutoff;
    });
  }
  int64_t size_;
  bool after_;
};

// ----------------------------------------------------------------------------------------------
// Window functions

/// A function over all elements of a window (or over the one pre-aggregated value, after
/// reduce/aggregate), as Flink's ProcessWindowFunction.
template <typename IN, typename OUT, typename K, typename W>
class ProcessWindowFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  using KeyType = K;
  using WindowType = W;

  /// The window being evaluated, clocks, and state per key and window (windowState) or per
  /// key (globalState). Side outputs carry the window's max timestamp.
  class Context : public internal::ContextBase {
   public:
    Context(const StreamOperator* op, internal::InternalTimerService* timers,
            KeyedStateStore* windowState, KeyedStateStore* globalState)
        : ContextBase(op), timers_(timers), windowState_(windowState), globalState_(globalState) {}
    const W& window() const { return *window_; }
    int64_t currentProcessingTime() const { return timers_->currentProcessingTime(); }
    int64_t currentWatermark() const { return timers_->currentWatermark(); }
    /// State of the current key and window; clear it in `clear`. Not available with merging
    /// windows (session windows), as in Flink: throws StateException.
    KeyedStateStore& windowState() const {
      if (windowState_ == nullptr) {
        throw StateException(
            "Per-window state is not allowed when using merging windows: windowState() of a "
            "ProcessWindowFunction over session windows (use globalState())");
      }
      return *windowState_;
    }
    /// State of the current key, across its windows.
    KeyedStateStore& globalState() const { return *globalState_; }

    void setWindow(const W* window) {
      window_ = window;
      setTimestamp(window->maxTimestamp());
    }

   private:
    internal::InternalTimerService* timers_;
    KeyedStateStore* windowState_;
    KeyedStateStore* globalState_;
    const W* window_ = nullptr;
  };

  /// Evaluates the window of `key`: `elements` are its contents in arrival order (after any
  /// eviction), or the one reduced or aggregated value.
  virtual void process(const K& key, Context& ctx, const std::vector<IN>& elements,
                       Collector<OUT>& out) = 0;
  /// The window is purged for good (its cleanup time passed): clear its windowState.
  virtual void clear(Context& ctx) { (void)ctx; }
};

/// A function over all elements of a window of a non-keyed stream (windowAll), as Flink's
/// ProcessAllWindowFunction. Its context is ProcessWindowFunction's; its globalState() is the
/// state of the whole stream.
template <typename IN, typename OUT, typename W>
class ProcessAllWindowFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  using WindowType = W;
  /// windowAll runs over one constant key of this type.
  using KeyType = uint8_t;
  using Context = typename ProcessWindowFunction<IN, OUT, KeyType, W>::Context;

  virtual void process(Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
  virtual void clear(Context& ctx) { (void)ctx; }
};

}  // namespace brook
