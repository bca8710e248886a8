#pragma once

#include <cstdint>
#include <stdexcept>
#include <typeinfo>

#include <brook/functions.h>
#include <brook/operator.h>

namespace brook {

/// A function over each element with access to its timestamp, the current watermark and side
/// outputs, as Flink's ProcessFunction.
template <typename IN, typename OUT>
class ProcessFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;

  /// What `processElement` may read and where it may emit besides the main output.
  class Context {
   public:
    Context(const StreamOperator* op, const int64_t* watermark) : op_(op), watermark_(watermark) {}

    /// The element's timestamp, or kNoTimestamp.
    int64_t timestamp() const { return timestamp_; }
    int64_t currentWatermark() const { return *watermark_; }

    /// Emits to the side output named by `tag`; dropped when nothing consumes that output.
    template <typename X>
    void output(const OutputTag<X>& tag, X value) {
      OutputBase* out = op_->sideOutput(tag.id());
      if (out == nullptr)
        return;
      if (out->recordType() != typeid(X)) {
        throw std::logic_error("side output '" + tag.id() + "' is used with two record types");
      }
      static_cast<Output<X>*>(out)->push(std::move(value), timestamp_);
    }

    void setTimestamp(int64_t timestamp) { timestamp_ = timestamp; }

   private:
    const StreamOperator* op_;
    const int64_t* watermark_;
    int64_t timestamp_ = kNoTimestamp;
  };

  virtual void processElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
};

/// Which clock a timer follows.
enum class TimeDomain { kEventTime, kProcessingTime };

/// Registers and deletes the timers of the current key, as Flink's TimerService. There is at
/// most one timer per key and timestamp in each domain: registering it again does nothing.
/// Event-time timers fire when the watermark reaches their time; processing-time timers when
/// the wall clock does, and all remaining ones at the end of a bounded input.
class TimerService {
 public:
  virtual ~TimerService() = default;
  /// Epoch milliseconds.
  virtual int64_t currentProcessingTime() const = 0;
  virtual int64_t currentWatermark() const = 0;
  virtual void registerProcessingTimeTimer(int64_t time) = 0;
  virtual void registerEventTimeTimer(int64_t time) = 0;
  virtual void deleteProcessingTimeTimer(int64_t time) = 0;
  virtual void deleteEventTimeTimer(int64_t time) = 0;
};

namespace internal {
/// What every process function context has: the element's timestamp and side outputs.
class ContextBase {
 public:
  explicit ContextBase(const StreamOperator* op) : op_(op) {}
  virtual ~ContextBase() = default;

  /// The element's (or the firing timer's) timestamp, or kNoTimestamp.
  int64_t timestamp() const { return timestamp_; }

  /// Emits to the side output named by `tag`; dropped when nothing consumes that output.
  template <typename X>
  void output(const OutputTag<X>& tag, X value) const {
    OutputBase* out = op_->sideOutput(tag.id());
    if (out == nullptr)
      return;
    if (out->recordType() != typeid(X))
      throw std::logic_error("side output '" + tag.id() + "' is used with two record types");
    static_cast<Output<X>*>(out)->push(std::move(value), timestamp_);
  }

  void setTimestamp(int64_t timestamp) { timestamp_ = timestamp; }

 protected:
  const StreamOperator* op_;
  int64_t timestamp_ = kNoTimestamp;
};

/// A context with timers and the current key, for functions on keyed streams.
template <typename K>
class KeyedContextBase : public ContextBase {
 public:
  KeyedContextBase(const StreamOperator* op, TimerService* timers)
      : ContextBase(op), timers_(timers) {}
  TimerService& timerService() const { return *timers_; }
  /// The key of the element (or timer) being processed.
  const K& getCurrentKey() const { return *key_; }
  void set(int64_t timestamp, const K* key) {
    timestamp_ = timestamp;
    key_ = key;
  }

 private:
  TimerService* timers_;
  const K* key_ = nullptr;
};

/// Adds the firing timer's time domain.
template <typename Base>
class OnTimerContextOf : public Base {
 public:
  using Base::Base;
  TimeDomain timeDomain() const { return domain_; }
  void setTimeDomain(TimeDomain domain) { domain_ = domain; }

 private:
  TimeDomain domain_ = TimeDomain::kEventTime;
};
}  // namespace internal

/// A function over two connected streams, as Flink's CoProcessFunction: each element of the
/// first input goes to `processElement1`, of the second to `processElement2`, on the same
/// operator instance (so they may share the function's members).
template <typename IN1, typename IN2, typename OUT>
class CoProcessFunction : public RichFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using Context = internal::ContextBase;

  virtual void processElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void processElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

/// A function over two connected streams keyed by the same key type, with keyed state and
/// timers, as Flink's KeyedCoProcessFunction. State accessed in either method is that of the
/// element's key.
template <typename K, typename IN1, typename IN2, typename OUT>
class KeyedCoProcessFunction : public RichFunction {
 public:
  using KeyType = K;
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using Context = internal::KeyedContextBase<K>;
  using OnTimerContext = internal::OnTimerContextOf<Context>;

  virtual void processElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void processElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

/// A function over each element of a keyed stream with keyed state and timers, as Flink's
/// KeyedProcessFunction. `onTimer` runs with the timer's key as the current key.
template <typename K, typename IN, typename OUT>
class KeyedProcessFunction : public RichFunction {
 public:
  using KeyType = K;
  using InputType = IN;
  using OutputType = OUT;

  /// What `processElement` may read (timestamp, timers, current key) and where it may emit
  /// besides the main output.
  using Context = internal::KeyedContextBase<K>;
  /// The context of `onTimer`: also says which clock fired.
  using OnTimerContext = internal::OnTimerContextOf<Context>;

  virtual void processElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
  /// A timer registered through the context's TimerService fired at `timestamp`.
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

}  // namespace brook
