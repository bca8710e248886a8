#pragma once

/// Runs a WatermarkStrategy inside one subtask: after any operator
/// (`TimestampsAndWatermarksOperator`) or on what a source reader emits
/// (`TimestampsAndWatermarksOutput`, used by SourceOperator).

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

#include <brook/functions.h>
#include <brook/operator.h>
#include <brook/watermark_strategy.h>

namespace brook::internal {

/// Assigns timestamps to the records it passes to `downstream` and emits the generator's
/// watermarks and idleness there, periodically through the task's processing-time timers.
/// Watermarks only go forward; a record or watermark after idleness first marks the stream
/// active. Task thread only.
template <typename T>
class TimestampsAndWatermarksOutput final : public Output<T>, public WatermarkOutput {
 public:
  explicit TimestampsAndWatermarksOutput(WatermarkStrategy<T> strategy)
      : strategy_(std::move(strategy)) {}

  /// Creates the generator and schedules periodic emission; before the first record.
  void open(const RuntimeContext& context, Output<T>* downstream) {
    downstream_ = downstream;
    clock_ = context.processingTimeService;
    ProcessingTimeService* clock = clock_;
    generator_ = strategy_.createGenerator([clock] { return clock->currentProcessingTime(); });
    interval_ = context.autoWatermarkIntervalMillis;
    if (interval_ > 0)
      schedulePeriodicEmit();
  }

  void push(T&& record, int64_t timestamp) override {
    if (strategy_.ingestionTime()) {
      timestamp = clock_->currentProcessingTime();
    } else if (strategy_.timestampAssigner()) {
      timestamp = strategy_.timestampAssigner()(std::as_const(record), timestamp);
    }
    if (idle_)
      markActive();
    // Watermarks the generator emits on this event follow the record, so that it is never late
    // by its own watermark.
    inEvent_ = true;
    try {
      generator_->onEvent(std::as_const(record), timestamp, *this);
    } catch (...) {
      inEvent_ = false;
      throw;
    }
    inEvent_ = false;
    downstream_->push(std::move(record), timestamp);
    if (pendingWatermark_ != kNoTimestamp) {
      int64_t w = pendingWatermark_;
      pendingWatermark_ = kNoTimestamp;
      emitWatermark(w);
    }
  }

  void emitWatermark(int64_t watermark) override {
    if (watermark <= current_)
      return;
    if (inEvent_) {
      pendingWatermark_ = std::max(pendingWatermark_, watermark);
      return;
    }
    current_ = watermark;
    if (idle_)
      markActive();
    downstream_->emitWatermark(watermark);
  }
  void emitWatermarkStatus(bool idle) override {
    if (idle) {
      markIdle();
    } else {
      markActive();
    }
  }
  void markIdle() override {
    if (idle_)
      return;
    idle_ = true;
    downstream_->emitWatermarkStatus(true);
  }
  void markActive() override {
    if (!idle_)
      return;
    idle_ = false;
    downstream_->emitWatermarkStatus(false);
  }

  int64_t currentWatermark() const { return current_; }

 private:
  void schedulePeriodicEmit() {
    clock_->registerTimer(clock_->currentProcessingTime() + interval_, [this](int64_t) {
      // After the final watermark there is nothing left to say.
      if (current_ == kMaxWatermark)
        return;
      generator_->onPeriodicEmit(*this);
      schedulePeriodicEmit();
    });
  }

  WatermarkStrategy<T> strategy_;
  std::unique_ptr<WatermarkGenerator<T>> generator_;
  Output<T>* downstream_ = nullptr;
  ProcessingTimeService* clock_ = nullptr;
  int64_t interval_ = 0;
  int64_t current_ = kNoTimestamp;
  int64_t pendingWatermark_ = kNoTimestamp;
  bool inEvent_ = false;
  bool idle_ = false;
};

/// `DataStream::assignTimestampsAndWatermarks`: replaces the stream's timestamps and
/// watermarks with those of a strategy. Upstream watermarks are dropped, except the final one
/// (kMaxWatermark) at the end of a bounded input; upstream idleness passes through.
template <typename T>
class TimestampsAndWatermarksOperator final : public OneInputOperator<T, T> {
 public:
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy)
      : output_(std::move(strategy)) {}

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    this->callUser([&] { output_.open(context, this->out_); });
  }
  void push(T&& record, int64_t timestamp) override {
    this->callUser([&] { output_.push(std::move(record), timestamp); });
  }
  void processWatermark(int64_t watermark) override {
    if (watermark == kMaxWatermark)
      output_.emitWatermark(kMaxWatermark);
  }
  void processWatermarkStatus(bool idle) override { output_.emitWatermarkStatus(idle); }

 private:
  TimestampsAndWatermarksOutput<T> output_;
};

}  // namespace brook::internal
