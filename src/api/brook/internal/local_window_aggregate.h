#pragma once

/// Local-global window aggregation (WindowedStream::localAggregation), as Flink SQL's two-phase
/// window aggregation: in the tasks that produce the stream, before the shuffle, a local
/// operator folds each key's elements per slice of event time into one partial accumulator; a
/// slice is a window for tumbling windows and the greatest common divisor of size and slide for
/// sliding ones, so every window is made of whole slices. When the watermark passes a slice's
/// end (and at every checkpoint, in operator state), the partials cross the network; the global
/// window operator merges each into the windows its slice belongs to and fires them as usual.

#include <cstdint>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

#include <brook/internal/key_hash.h>
#include <brook/internal/window_operator.h>
#include <brook/operator.h>
#include <brook/operator_state_store.h>
#include <brook/serializer.h>
#include <brook/state.h>
#include <brook/windowing.h>

namespace brook::internal {

/// One key's partial accumulator of one slice of event time, ending at `sliceEnd` (exclusive).
/// It travels with the timestamp `sliceEnd - 1`, which lies in exactly the windows that hold
/// the slice.
template <typename K, typename ACC>
struct WindowPartial {
  K key{};
  int64_t sliceEnd = 0;
  ACC accumulator{};
};

/// The key of a WindowPartial, the global operator's key selector.
struct WindowPartialKey {
  template <typename P>
  const auto& operator()(const P& partial) const {
    return partial.key;
  }
};

/// The slices of event-time windows: `size` long, starting at multiples of `size` plus
/// `offset`.
struct WindowSlicing {
  int64_t size = 1;
  int64_t offset = 0;

  static WindowSlicing of(const TumblingEventTimeWindows& windows) {
    return {windows.size(), windows.offset() % windows.size()};
  }
  static WindowSlicing of(const SlidingEventTimeWindows& windows) {
    const int64_t slice = std::gcd(windows.size(), windows.slide());
    return {slice, windows.offset() % slice};
  }
  int64_t endOf(int64_t timestamp) const {
    return TimeWindow::windowStartWithOffset(timestamp, offset, size) + size;
  }
};

/// Folds elements of type T into accumulators with a reduce function (ACC = T).
template <typename T, typename F>
struct ReduceFolding {
  F fn;
  T first(const T& value) const { return value; }
  void add(T& accumulator, const T& value) { accumulator = fn(std::as_const(accumulator), value); }
  void merge(T& accumulator, const T& other) {
    accumulator = fn(std::as_const(accumulator), other);
  }
};

/// Folds elements into an AggregateFunction's accumulators.
template <typename T, typename ACC, typename AF>
struct AggregateFolding {
  AF fn;
  ACC first(const T& value) const { return fn.add(value, fn.createAccumulator()); }
  void add(ACC& accumulator, const T& value) const {
    accumulator = fn.add(value, std::move(accumulator));
  }
  void merge(ACC& accumulator, const ACC& other) const {
    accumulator = fn.merge(std::move(accumulator), other);
  }
};

/// The global side's AggregateFunction: its inputs are partial accumulators of `AF`, added with
/// `AF::merge`.
template <typename AF>
class MergePartials final : public AggregateFunction<typename AF::AccumulatorType,
                                                     typename AF::AccumulatorType,
                                                     typename AF::OutputType> {
 public:
  using ACC = typename AF::AccumulatorType;
  using OUT = typename AF::OutputType;
  explicit MergePartials(AF fn) : fn_(std::move(fn)) {}
  ACC createAccumulator() const override { return fn_.createAccumulator(); }
  ACC add(const ACC& partial, ACC accumulator) const override {
    return fn_.merge(std::move(accumulator), partial);
  }
  OUT getResult(const ACC& accumulator) const override { return fn_.getResult(accumulator); }
  ACC merge(ACC a, const ACC& b) const override { return fn_.merge(std::move(a), b); }

 private:
  AF fn_;
};

/// Window contents of the global operator: `Inner` contents over accumulators, fed the
/// accumulator of each WindowPartial.
template <typename Inner>
class WindowPartialContents {
 public:
  using ValueType = typename Inner::ValueType;
  explicit WindowPartialContents(Inner inner) : inner_(std::move(inner)) {}
  void open(KeyedStateBackend& backend, KeyedStateStore& scope) { inner_.open(backend, scope); }
  void setNamespace(std::string_view ns) { inner_.setNamespace(ns); }
  void prefetch(std::string_view ns) const { inner_.prefetch(ns); }
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) {
    inner_.mergeNamespaces(target, sources);
  }
  template <typename P>
  bool add(const P& partial, int64_t timestamp) {
    return inner_.add(partial.accumulator, timestamp);
  }
  bool empty() { return inner_.empty(); }
  void clear() { inner_.clear(); }
  template <typename W, typename Call>
  void fire(const W& window, const EvictorContext& ctx, Call&& call) {
    inner_.fire(window, ctx, std::forward<Call>(call));
  }

 private:
  Inner inner_;
};

/// The local operator: folds each key's elements per slice with `Folding` and emits the
/// partials of a slice once the watermark passes its end. An element whose slice the watermark
/// has already passed is sent on at once as a partial of its own: the global operator then
/// treats it as the late element it is. At most `kMaxHeldPartials` partials are held; beyond
/// that, all are sent. A checkpoint keeps the held partials in the operator state
/// "local-window-partials".
template <typename K, typename T, typename ACC, typename KeySelector, typename Folding>
class LocalWindowAggregateOperator final : public OneInputOperator<T, WindowPartial<K, ACC>> {
 public:
  using Partial = WindowPartial<K, ACC>;
  static constexpr size_t kMaxHeldPartials = size_t{1} << 16;

  LocalWindowAggregateOperator(KeySelector selector, WindowSlicing slicing, Folding folding)
      : selector_(std::move(selector)), slicing_(slicing), folding_(std::move(folding)) {}

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    if (context.operatorStateStore == nullptr)
      return;
    state_ = &context.operatorStateStore->getListState(
        ListStateDescriptor<Partial>("local-window-partials"));
    this->callUser([&] {
      for (Partial& partial : state_->get()) {
        Table& table = sliceTable(partial.sliceEnd);
        auto it = table.find(partial.key);
        if (it == table.end()) {
          table.emplace(std::move(partial.key), std::move(partial.accumulator));
          ++held_;
        } else {
          folding_.merge(it->second, partial.accumulator);
        }
      }
    });
  }

  void push(T&& record, int64_t timestamp) override {
    this->callUser([&] {
      if (timestamp == kNoTimestamp)
        throwNoTimestamp();
      // Most elements fall into the slice of the one before: no division for them. The
      // current slice is held, so the watermark has not passed it.
      Table* table = current_;
      if (current_ == nullptr || timestamp >= currentEnd_ ||
          timestamp < currentEnd_ - slicing_.size) {
        const int64_t sliceEnd = slicing_.endOf(timestamp);
        if (sliceEnd - 1 <= watermark_) {
          send(Partial{selector_(record), sliceEnd, folding_.first(record)});
          return;
        }
        table = &sliceTable(sliceEnd);
      }
      K key = selector_(std::as_const(record));
      auto it = table->find(key);
      if (it != table->end()) {
        folding_.add(it->second, record);
        return;
      }
      table->emplace(std::move(key), folding_.first(record));
      if (++held_ >= kMaxHeldPartials)
        sendSlicesUpTo(kMaxWatermark);
    });
  }

  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    this->callUser([&] { sendSlicesUpTo(watermark); });
    this->out_->emitWatermark(watermark);
  }

  void endInput() override {
    this->callUser([&] { sendSlicesUpTo(kMaxWatermark); });
  }

  void snapshotState(int64_t) override {
    if (state_ == nullptr)
      return;
    std::vector<Partial> held;
    held.reserve(held_);
    for (const auto& [sliceEnd, table] : slices_) {
      for (const auto& [key, accumulator] : table)
        held.push_back(Partial{key, sliceEnd, accumulator});
    }
    this->callUser([&] { state_->update(std::move(held)); });
  }

 private:
  using Table = KeyedTable<K, ACC>;

  Table& sliceTable(int64_t sliceEnd) {
    current_ = &slices_[sliceEnd];
    currentEnd_ = sliceEnd;
    return *current_;
  }

  void send(Partial&& partial) {
    const int64_t timestamp = partial.sliceEnd - 1;
    this->out_->push(std::move(partial), timestamp);
  }

  /// Sends the partials of the slices that end at or before `watermark + 1`, oldest first.
  void sendSlicesUpTo(int64_t watermark) {
    auto it = slices_.begin();
    for (; it != slices_.end() && it->first - 1 <= watermark; ++it) {
      for (auto& [key, accumulator] : it->second)
        send(Partial{key, it->first, std::move(accumulator)});
      held_ -= it->second.size();
    }
    if (it == slices_.begin())
      return;
    slices_.erase(slices_.begin(), it);
    current_ = nullptr;
    currentEnd_ = kNoTimestamp;
  }

  KeySelector selector_;
  WindowSlicing slicing_;
  Folding folding_;
  ListState<Partial>* state_ = nullptr;
  // The held partials by slice end; node-based, so `current_` stays valid until its slice goes.
  std::map<int64_t, Table> slices_;
  Table* current_ = nullptr;
  int64_t currentEnd_ = kNoTimestamp;
  size_t held_ = 0;
  int64_t watermark_ = kNoTimestamp;
};

}  // namespace brook::internal

namespace brook {
template <typename K, typename ACC>
struct TypeSerializer<internal::WindowPartial<K, ACC>> {
  static void serialize(const internal::WindowPartial<K, ACC>& v, DataOutput& out) {
    brook::serialize(v.key, out);
    brook::serialize(v.sliceEnd, out);
    brook::serialize(v.accumulator, out);
  }
  static void deserialize(DataInput& in, internal::WindowPartial<K, ACC>& v) {
    brook::deserialize(in, v.key);
    brook::deserialize(in, v.sliceEnd);
    brook::deserialize(in, v.accumulator);
  }
};
}  // namespace brook
