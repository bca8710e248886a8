#pragma once

/// Interval joins of two keyed streams, as Flink's KeyedStream.intervalJoin:
///
///   orders.keyBy(customerOfOrder)
///       .intervalJoin(payments.keyBy(customerOfPayment))
///       .between(std::chrono::seconds(-5), std::chrono::seconds(10))
///       .process(MatchPayments{});
///
/// joins each left element at t1 with every right element of the same key at t2 where
/// t1 + lower <= t2 <= t1 + upper (both bounds inclusive unless made exclusive), in event time.
/// Elements of each side are buffered in keyed state until the watermark makes them
/// unjoinable; elements older than the watermark are late and join nothing.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <brook/data_stream.h>
#include <brook/functions.h>
#include <brook/internal/interval_join_operator.h>
#include <brook/process_join_function.h>

namespace brook {

namespace internal {
/// Runs a callable `OUT(const T1&, const T2&)` as a ProcessJoinFunction.
template <typename F>
struct ProcessJoinCall {
  F fn;
  template <typename T1, typename T2, typename Ctx, typename OUT>
  void processElement(const T1& left, const T2& right, Ctx&, Collector<OUT>& out) {
    out.collect(fn(left, right));
  }
};
}  // namespace internal

template <typename K, typename T1, typename T2, typename S1, typename S2>
class IntervalJoined;

/// Two keyed streams with the same key type to be interval-joined; `between` sets the bounds.
template <typename K, typename T1, typename T2, typename S1, typename S2>
class IntervalJoin {
 public:
  IntervalJoin(KeyedStream<K, T1, S1> left, KeyedStream<K, T2, S2> right)
      : left_(std::move(left)), right_(std::move(right)) {}

  /// Joins a left element at t1 with the right elements at t2 where
  /// t1 + lowerBound <= t2 <= t1 + upperBound. Throws JobDefinitionError when lowerBound
  /// exceeds upperBound.
  IntervalJoined<K, T1, T2, S1, S2> between(std::chrono::milliseconds lowerBound,
                                            std::chrono::milliseconds upperBound) const {
    if (lowerBound > upperBound) {
      internal::throwJobDefinitionError(
          "interval join 'Interval Join': the lower bound (" +
          std::to_string(lowerBound.count()) + " ms) must not exceed the upper bound (" +
          std::to_string(upperBound.count()) + " ms)");
    }
    return IntervalJoined<K, T1, T2, S1, S2>(left_, right_, lowerBound.count(),
                                             upperBound.count());
  }

 private:
  KeyedStream<K, T1, S1> left_;
  KeyedStream<K, T2, S2> right_;
};

/// An interval join with its bounds, as Flink's IntervalJoined: optionally exclusive bounds and
/// late data outputs, ended by `process`.
template <typename K, typename T1, typename T2, typename S1, typename S2>
class IntervalJoined {
 public:
  IntervalJoined(KeyedStream<K, T1, S1> left, KeyedStream<K, T2, S2> right, int64_t lowerBound,
                 int64_t upperBound)
      : left_(std::move(left)),
        right_(std::move(right)),
        lowerBound_(lowerBound),
        upperBound_(upperBound) {}

  /// Excludes t2 == t1 + lowerBound from the join.
  IntervalJoined lowerBoundExclusive() const {
    IntervalJoined result = *this;
    result.lowerBoundExclusive_ = true;
    return result;
  }
  /// Excludes t2 == t1 + upperBound from the join.
  IntervalJoined upperBoundExclusive() const {
    IntervalJoined result = *this;
    result.upperBoundExclusive_ = true;
    return result;
  }
  /// Sends left elements older than the watermark to `tag` instead of dropping them (read it
  /// with getSideOutput on the result).
  IntervalJoined sideOutputLeftLateData(const OutputTag<T1>& tag) const {
    IntervalJoined result = *this;
    result.leftLateDataTag_ = tag.id();
    return result;
  }
  /// Sends right elements older than the watermark to `tag` instead of dropping them.
  IntervalJoined sideOutputRightLateData(const OutputTag<T2>& tag) const {
    IntervalJoined result = *this;
    result.rightLateDataTag_ = tag.id();
    return result;
  }

  /// A ProcessJoinFunction<T1, T2, OUT> subclass over each joined pair.
  template <typename PF>
  requires std::is_base_of_v<ProcessJoinFunction<T1, T2, typename PF::OutputType>, PF>
  DataStream<typename PF::OutputType> process(PF fn) const {
    return build<typename PF::OutputType>(std::move(fn));
  }

  /// A callable `OUT(const T1&, const T2&)` over each joined pair; each result carries the
  /// later of the pair's timestamps.
  template <typename F>
  requires(!std::is_base_of_v<RichFunction, F> && std::invocable<F&, const T1&, const T2&> &&
           !std::is_void_v<std::invoke_result_t<F&, const T1&, const T2&>>)
  auto process(F fn) const {
    using OUT = std::remove_cvref_t<std::invoke_result_t<F&, const T1&, const T2&>>;
    return build<OUT>(internal::ProcessJoinCall<F>{std::move(fn)});
  }

 private:
  static constexpr char kName[] = "Interval Join";

  template <typename OUT, typename F>
  DataStream<OUT> build(F fn) const {
    internal::IntervalJoinSettings settings;
    settings.lowerBound =
        lowerBoundExclusive_ ? internal::saturatingAdd(lowerBound_, 1) : lowerBound_;
    settings.upperBound =
        upperBoundExclusive_ ? internal::saturatingSubtract(upperBound_, 1) : upperBound_;
    if (settings.lowerBound > settings.upperBound) {
      internal::throwJobDefinitionError(
          std::string("interval join '") + kName + "': the interval " +
          (lowerBoundExclusive_ ? "(" : "[") + std::to_string(lowerBound_) + ", " +
          std::to_string(upperBound_) + (upperBoundExclusive_ ? ")" : "]") +
          " ms holds no time difference: make a bound inclusive or widen the interval");
    }
    settings.leftLateDataTag = leftLateDataTag_;
    settings.rightLateDataTag = rightLateDataTag_;
    S1 selector1 = left_.keySelector();
    S2 selector2 = right_.keySelector();
    return ConnectedStreams<T1, T2>::template twoInput<OUT>(
        left_.stream(), right_.stream(), kName, [selector1, selector2, settings, fn] {
          return std::make_unique<
              internal::IntervalJoinOperator<K, T1, T2, OUT, S1, S2, F>>(selector1, selector2,
                                                                         settings, fn);
        });
  }

  KeyedStream<K, T1, S1> left_;
  KeyedStream<K, T2, S2> right_;
  int64_t lowerBound_;
  int64_t upperBound_;
  bool lowerBoundExclusive_ = false;
  bool upperBoundExclusive_ = false;
  std::string leftLateDataTag_;
  std::string rightLateDataTag_;
};

template <typename K, typename T, typename KeySelector>
template <typename K2, typename T2, typename S2>
auto KeyedStream<K, T, KeySelector>::intervalJoin(const KeyedStream<K2, T2, S2>& other) const {
  static_assert(std::is_same_v<K, K2>,
                "Brook: intervalJoin() needs two keyed streams with the same key type");
  return IntervalJoin<K, T, T2, KeySelector, S2>(*this, other);
}

}  // namespace brook
