#pragma once

/// Event time: how records get their timestamps and how watermarks are generated from them.
///
/// A `WatermarkStrategy<T>` pairs an optional timestamp assigner with a watermark generator
/// factory, as in Flink. Attach it to a source (`env.fromSource(reader, strategy, name, ...)`,
/// one generator per source subtask) or after any operator
/// (`stream.assignTimestampsAndWatermarks(strategy)`). Generators emit on events and, every
/// `pipeline.auto-watermark-interval` (200 ms by default, 0 disables), periodically.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <brook/operator.h>

namespace brook {

/// Where a watermark generator emits watermarks and its idleness. Watermarks that are not above
/// the last one emitted are dropped: a stream's watermark never goes backwards.
class WatermarkOutput {
 public:
  virtual ~WatermarkOutput() = default;
  virtual void emitWatermark(int64_t watermark) = 0;
  /// The stream has no data for now: downstream operators do not wait for its watermark.
  virtual void markIdle() = 0;
  /// The stream has data again (emitting a record or a watermark also marks it active).
  virtual void markActive() = 0;
};

/// Generates watermarks from the events of one subtask: on each event and/or periodically.
template <typename T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  /// Called for every record, after its timestamp was assigned.
  virtual void onEvent(const T& event, int64_t eventTimestamp, WatermarkOutput& output) = 0;
  /// Called every `pipeline.auto-watermark-interval`.
  virtual void onPeriodicEmit(WatermarkOutput& output) = 0;
};

/// Watermarks that trail the largest timestamp seen by a fixed bound: maxTimestamp - bound - 1,
/// emitted periodically. A bound of 0 suits monotonously increasing timestamps.
template <typename T>
class BoundedOutOfOrdernessWatermarks final : public WatermarkGenerator<T> {
 public:
  explicit BoundedOutOfOrdernessWatermarks(int64_t boundMillis)
      : bound_(boundMillis), maxTimestamp_(kNoTimestamp + boundMillis + 1) {}
  void onEvent(const T&, int64_t eventTimestamp, WatermarkOutput&) override {
    if (eventTimestamp > maxTimestamp_)
      maxTimestamp_ = eventTimestamp;
  }
  void onPeriodicEmit(WatermarkOutput& output) override {
    output.emitWatermark(maxTimestamp_ - bound_ - 1);
  }

 private:
  int64_t bound_;
  int64_t maxTimestamp_;
};

/// Emits no watermarks (processing-time jobs, or streams whose watermarks come from elsewhere).
template <typename T>
class NoWatermarksGenerator final : public WatermarkGenerator<T> {
 public:
  void onEvent(const T&, int64_t, WatermarkOutput&) override {}
  void onPeriodicEmit(WatermarkOutput&) override {}
};

// GCC, seeing this as the only override of WatermarkGenerator<T> for a T local to one
// translation unit, devirtualizes the inner call to this class and reports an infinite
// recursion that cannot happen (the inner generator is another object); jobs built with
// -Werror would fail on it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
#endif
/// Wraps a generator: when no event arrived for `timeout` of processing time, marks the stream
/// idle at the next periodic emission instead of asking the inner generator.
template <typename T>
class WatermarksWithIdleness final : public WatermarkGenerator<T> {
 public:
  WatermarksWithIdleness(std::unique_ptr<WatermarkGenerator<T>> inner,
                         int64_t timeoutMillis,
                         std::function<int64_t()> clock)
      : inner_(std::move(inner)), timeout_(timeoutMillis), clock_(std::move(clock)) {}
  void onEvent(const T& event, int64_t eventTimestamp, WatermarkOutput& output) override {
    inner_->onEvent(event, eventTimestamp, output);
    ++events_;
  }
  void onPeriodicEmit(WatermarkOutput& output) override {
    if (isIdle()) {
      output.markIdle();
    } else {
      inner_->onPeriodicEmit(output);
    }
  }

 private:
  // Flink's IdlenessTimer: inactivity starts at the first periodic check without new events.
  bool isIdle() {
    if (events_ != eventsAtLastCheck_) {
      eventsAtLastCheck_ = events_;
      inactiveSince_.reset();
      return false;
    }
    int64_t now = clock_();
    if (!inactiveSince_) {
      inactiveSince_ = now;
      return false;
    }
    return now - *inactiveSince_ >= timeout_;
  }

  std::unique_ptr<WatermarkGenerator<T>> inner_;
  int64_t timeout_;
  std::function<int64_t()> clock_;
  uint64_t events_ = 0;
  uint64_t eventsAtLastCheck_ = 0;
  std::optional<int64_t> inactiveSince_;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// How a stream gets event-time timestamps and watermarks. Immutable: the `with...` methods
/// return changed copies. Invalid durations are reported as JobDefinitionError, naming the
/// operator, when the strategy is attached.
template <typename T>
class WatermarkStrategy {
 public:
  using GeneratorFactory = std::function<std::unique_ptr<WatermarkGenerator<T>>()>;
  /// `(record, timestamp the record carries or kNoTimestamp) -> event timestamp`.
  using TimestampAssigner = std::function<int64_t(const T&, int64_t)>;

  /// Watermarks trail the largest timestamp seen by `maxOutOfOrderness`; records up to that
  /// much out of order are not late.
  static WatermarkStrategy forBoundedOutOfOrderness(std::chrono::milliseconds maxOutOfOrderness) {
    int64_t bound = maxOutOfOrderness.count();
    WatermarkStrategy s([bound] {
      return std::make_unique<BoundedOutOfOrdernessWatermarks<T>>(bound < 0 ? 0 : bound);
    });
    s.outOfOrderness_ = bound;
    return s;
  }
  /// Timestamps never decrease: the watermark is the largest timestamp seen, minus 1.
  static WatermarkStrategy forMonotonousTimestamps() {
    return forBoundedOutOfOrderness(std::chrono::milliseconds(0));
  }
  static WatermarkStrategy noWatermarks() {
    return WatermarkStrategy([] { return std::make_unique<NoWatermarksGenerator<T>>(); });
  }
  /// A custom generator; `factory` is called once per parallel subtask.
  static WatermarkStrategy forGenerator(GeneratorFactory factory) {
    return WatermarkStrategy(std::move(factory));
  }
  /// Ingestion time: each record's timestamp is the processing time at which the strategy sees
  /// it (attach it to the source), with monotonous watermarks.
  static WatermarkStrategy forIngestionTime() {
    WatermarkStrategy s = forMonotonousTimestamps();
    s.ingestionTime_ = true;
    return s;
  }

  /// Takes each record's event timestamp from `assigner(record, recordTimestamp)`.
  WatermarkStrategy withTimestampAssigner(TimestampAssigner assigner) const {
    WatermarkStrategy s = *this;
    s.assigner_ = std::move(assigner);
    s.ingestionTime_ = false;
    return s;
  }
  /// Marks the stream idle after `timeout` of processing time without records, so that it does
  /// not hold back the watermark downstream; needs periodic emission.
  WatermarkStrategy withIdleness(std::chrono::milliseconds timeout) const {
    WatermarkStrategy s = *this;
    s.idleTimeout_ = timeout.count();
    return s;
  }

  /// What is wrong with this strategy, or empty; `operatorName` names where it is attached.
  std::string validate(const std::string& operatorName) const {
    if (outOfOrderness_ < 0) {
      return "watermark strategy of operator '" + operatorName +
             "': the bounded out-of-orderness must be >= 0 ms, got " +
             std::to_string(outOfOrderness_) + " ms";
    }
    if (idleTimeout_ && *idleTimeout_ <= 0) {
      return "watermark strategy of operator '" + operatorName +
             "': the idleness timeout must be > 0 ms, got " + std::to_string(*idleTimeout_) +
             " ms";
    }
    if (!factory_)
      return "watermark strategy of operator '" + operatorName + "' has no generator";
    return {};
  }

  /// A generator for one subtask; `clock` is the subtask's processing time (for idleness).
  std::unique_ptr<WatermarkGenerator<T>> createGenerator(std::function<int64_t()> clock) const {
    std::unique_ptr<WatermarkGenerator<T>> generator = factory_();
    if (idleTimeout_) {
      generator = std::make_unique<WatermarksWithIdleness<T>>(std::move(generator), *idleTimeout_,
                                                              std::move(clock));
    }
    return generator;
  }
  const TimestampAssigner& timestampAssigner() const { return assigner_; }
  bool ingestionTime() const { return ingestionTime_; }

 private:
  explicit WatermarkStrategy(GeneratorFactory factory) : factory_(std::move(factory)) {}

  GeneratorFactory factory_;
  TimestampAssigner assigner_;
  int64_t outOfOrderness_ = 0;
  std::optional<int64_t> idleTimeout_;
  bool ingestionTime_ = false;
};

}  // namespace brook
