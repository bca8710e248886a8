#pragma once

/// The operator behind KeyedStream::intervalJoin, as Flink's IntervalJoinOperator: a keyed
/// two-input operator that buffers the elements of each side per key and timestamp, joins every
/// new element with the buffered elements of the other side whose timestamps lie within the
/// bounds, and removes buffered elements through event-time timers once the watermark makes
/// them unjoinable.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <brook/internal/keyed_operator_support.h>
#include <brook/internal/operators.h>
#include <brook/internal/timer_service.h>
#include <brook/internal/two_input_operators.h>
#include <brook/operator.h>
#include <brook/process_join_function.h>
#include <brook/state.h>

namespace brook::internal {

/// The names of the buffers' keyed map states (timestamp -> elements), as Flink's.
inline constexpr char kLeftBufferState[] = "LEFT_BUFFER";
inline constexpr char kRightBufferState[] = "RIGHT_BUFFER";
/// The namespaces of the cleanup timers of each side, as Flink's.
inline constexpr char kCleanupNamespaceLeft[] = "CLEANUP_LEFT";
inline constexpr char kCleanupNamespaceRight[] = "CLEANUP_RIGHT";

/// What an interval join operator is configured with besides its key selectors and function.
struct IntervalJoinSettings {
  /// The inclusive bounds of (right timestamp - left timestamp), exclusive bounds already
  /// moved inwards by one millisecond; lowerBound <= upperBound.
  int64_t lowerBound = 0;
  int64_t upperBound = 0;
  std::string leftLateDataTag;   ///< empty: late left elements are dropped
  std::string rightLateDataTag;  ///< empty: late right elements are dropped
};

/// `a + b`, clamped to the range of int64_t.
inline int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t result;
  if (__builtin_add_overflow(a, b, &result))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return result;
}
/// `a - b`, clamped to the range of int64_t.
inline int64_t saturatingSubtract(int64_t a, int64_t b) {
  int64_t result;
  if (__builtin_sub_overflow(a, b, &result))
    return b < 0 ? INT64_MAX : INT64_MIN;
  return result;
}

/// Joins left elements (input 1) at t1 with right elements (input 2) at t2 of the same key when
/// t1 + lowerBound <= t2 <= t1 + upperBound, in event time:
///   - an element older than the watermark is late: it goes to its side's late data output, or
///     is dropped, and joins nothing;
///   - otherwise it joins the other side's buffered elements within the bounds, and is
///     buffered in LEFT_BUFFER / RIGHT_BUFFER under its timestamp;
///   - a left element is removed once the watermark passes t1 + upperBound, a right element
///     once it passes t2 - lowerBound: every element that could still join them would be late.
/// Each pair reaches `F::processElement` with the later of the two timestamps, which its
/// results carry. An element without a timestamp fails the task. Used on the task's thread.
template <typename K, typename T1, typename T2, typename OUT, typename S1, typename S2,
          typename F>
class IntervalJoinOperator final : public TwoInputFunctionOperator<T1, T2, OUT, F> {
 public:
  using Context = typename ProcessJoinFunction<T1, T2, OUT>::Context;

  IntervalJoinOperator(S1 selector1, S2 selector2, IntervalJoinSettings settings, F fn)
      : TwoInputFunctionOperator<T1, T2, OUT, F>(std::move(fn)),
        selector1_(std::move(selector1)),
        selector2_(std::move(selector2)),
        settings_(std::move(settings)) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    keyed_.open(context, [this](const InternalTimer& t, TimeDomain d) { onTimer(t, d); });
    KeyedStateBackend& backend = keyed_.backend();
    this->callUser([&] {
      leftBuffer_ =
          &backend.getMapState(MapStateDescriptor<int64_t, std::vector<T1>>(kLeftBufferState));
      rightBuffer_ =
          &backend.getMapState(MapStateDescriptor<int64_t, std::vector<T2>>(kRightBufferState));
    });
    ctx_.emplace(this);
    this->openUserFunction(context);
  }

  void processElement1(T1&& record, int64_t timestamp) override {
    this->callUser([&] {
      requireTimestamp(timestamp);
      keyed_.setCurrentKey(selector1_(std::as_const(record)));
      if (isLate(timestamp)) {
        sideOutputLate(settings_.leftLateDataTag, std::move(record), timestamp);
        return;
      }
      const int64_t from = saturatingAdd(timestamp, settings_.lowerBound);
      const int64_t to = saturatingAdd(timestamp, settings_.upperBound);
      for (const auto& [rightTimestamp, elements] : rightBuffer_->entries()) {
        if (rightTimestamp < from || rightTimestamp > to)
          continue;
        for (const T2& right : elements)
          emit(record, right, timestamp, rightTimestamp);
      }
      addToBuffer(*leftBuffer_, std::move(record), timestamp);
      // Right elements that are not late have t2 >= watermark, so once the watermark exceeds
      // t1 + upperBound none can join this element.
      registerCleanupTimer(kCleanupNamespaceLeft, timestamp, settings_.upperBound);
    });
  }

  void processElement2(T2&& record, int64_t timestamp) override {
    this->callUser([&] {
      requireTimestamp(timestamp);
      keyed_.setCurrentKey(selector2_(std::as_const(record)));
      if (isLate(timestamp)) {
        sideOutputLate(settings_.rightLateDataTag, std::move(record), timestamp);
        return;
      }
      const int64_t from = saturatingSubtract(timestamp, settings_.upperBound);
      const int64_t to = saturatingSubtract(timestamp, settings_.lowerBound);
      for (const auto& [leftTimestamp, elements] : leftBuffer_->entries()) {
        if (leftTimestamp < from || leftTimestamp > to)
          continue;
        for (const T1& left : elements)
          emit(left, record, leftTimestamp, timestamp);
      }
      addToBuffer(*rightBuffer_, std::move(record), timestamp);
      // Left elements that are not late have t1 >= watermark, so once the watermark exceeds
      // t2 - lowerBound none can join this element.
      registerCleanupTimer(kCleanupNamespaceRight, timestamp,
                           saturatingSubtract(0, settings_.lowerBound));
    });
  }

  void processWatermark(int64_t watermark) override {
    this->callUser([&] { keyed_.timers().advanceWatermark(watermark); });
    this->out_->emitWatermark(watermark);
  }

 private:
  static void requireTimestamp(int64_t timestamp) {
    if (timestamp == kNoTimestamp) [[unlikely]] {
      throw std::runtime_error(
          "a record without a timestamp reached an interval join, which runs in event time: "
          "assign timestamps at the source or with a WatermarkStrategy");
    }
  }

  bool isLate(int64_t timestamp) { return timestamp < keyed_.timers().currentWatermark(); }

  template <typename T>
  void sideOutputLate(const std::string& tag, T&& record, int64_t timestamp) {
    if (tag.empty())
      return;
    if (OutputBase* late = this->sideOutput(tag))
      static_cast<Output<T>*>(late)->push(std::move(record), timestamp);
  }

  template <typename T>
  static void addToBuffer(MapState<int64_t, std::vector<T>>& buffer, T&& record,
                          int64_t timestamp) {
    std::optional<std::vector<T>> elements = buffer.get(timestamp);
    if (!elements.has_value())
      elements.emplace();
    elements->push_back(std::move(record));
    buffer.put(timestamp, std::move(*elements));
  }

  /// Registers the timer that removes the elements at `timestamp` once the watermark passes
  /// `timestamp + offset`; none when that is beyond the end of time (they are kept).
  void registerCleanupTimer(const char* ns, int64_t timestamp, int64_t offset) {
    const int64_t last = saturatingAdd(timestamp, offset);
    if (last == INT64_MAX)
      return;
    keyed_.timers().setCurrentNamespace(ns);
    keyed_.timers().registerEventTimeTimer(last + 1);
  }

  void onTimer(const InternalTimer& timer, TimeDomain domain) {
    if (domain != TimeDomain::kEventTime)
      return;
    this->callUser([&] {
      if (timer.stateNamespace == std::string_view(kCleanupNamespaceLeft)) {
        leftBuffer_->remove(timer.timestamp - 1 - settings_.upperBound);
      } else if (timer.stateNamespace == std::string_view(kCleanupNamespaceRight)) {
        rightBuffer_->remove(timer.timestamp - 1 + settings_.lowerBound);
      } else {
        throw std::logic_error("interval join timer in unknown namespace '" +
                               std::string(timer.stateNamespace.view()) + "'");
      }
    });
  }

  void emit(const T1& left, const T2& right, int64_t leftTimestamp, int64_t rightTimestamp) {
    ctx_->setTimestamps(leftTimestamp, rightTimestamp);
    this->collector_.reset(this->out_, ctx_->timestamp());
    this->fn_.processElement(left, right, *ctx_, this->collector_);
  }

  S1 selector1_;
  S2 selector2_;
  IntervalJoinSettings settings_;
  KeyedOperatorSupport<K> keyed_;
  MapState<int64_t, std::vector<T1>>* leftBuffer_ = nullptr;
  MapState<int64_t, std::vector<T2>>* rightBuffer_ = nullptr;
  std::optional<Context> ctx_;
};

}  // namespace brook::internal
