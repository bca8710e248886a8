#pragma once

/// Functions over a stream connected with a broadcast stream, as Flink's broadcast state
/// pattern: every element of the broadcast stream reaches every parallel instance, which keeps
/// it in broadcast state (a map that only broadcast elements may change); elements of the other
/// stream read that state.
///
///   MapStateDescriptor<std::string, Rule> rules("rules");
///   auto ruleStream = rulesSource.broadcast();
///   events.keyBy(...).connect(ruleStream).process(MyKeyedBroadcastFunction{});

#include <cstdint>
#include <utility>

#include <brook/functions.h>
#include <brook/operator_state_store.h>
#include <brook/process_function.h>
#include <brook/state.h>

namespace brook {

namespace internal {
/// Adds broadcast state to a context: read-only for the non-broadcast side, writable for the
/// broadcast side.
template <typename Base, bool kWritable>
class WithBroadcastState : public Base {
 public:
  template <typename... Args>
  explicit WithBroadcastState(OperatorStateStore* store, Args&&... args)
      : Base(std::forward<Args>(args)...), store_(store) {}

  template <typename K, typename V>
  auto& getBroadcastState(const MapStateDescriptor<K, V>& descriptor) const {
    if constexpr (kWritable) {
      return store_->getBroadcastState(descriptor);
    } else {
      return static_cast<const ReadOnlyBroadcastState<K, V>&>(
          store_->getBroadcastState(descriptor));
    }
  }

 private:
  OperatorStateStore* store_;
};
}  // namespace internal

/// A broadcast-connected function on a non-keyed stream.
template <typename IN1, typename IN2, typename OUT>
class BroadcastProcessFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using ReadOnlyContext = internal::WithBroadcastState<internal::ContextBase, false>;
  using Context = internal::WithBroadcastState<internal::ContextBase, true>;

  virtual void processElement(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void processBroadcastElement(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

/// A broadcast-connected function on a keyed stream: keyed elements have keyed state, timers
/// and read-only broadcast state; broadcast elements have writable broadcast state and no
/// current key.
template <typename K, typename IN1, typename IN2, typename OUT>
class KeyedBroadcastProcessFunction : public RichFunction {
 public:
  using KeyType = K;
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using ReadOnlyContext = internal::WithBroadcastState<internal::KeyedContextBase<K>, false>;
  using Context = internal::WithBroadcastState<internal::ContextBase, true>;
  using OnTimerContext = internal::OnTimerContextOf<ReadOnlyContext>;

  virtual void processElement(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void processBroadcastElement(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

}  // namespace brook
