#pragma once

/// The operator behind KeyedStream::process: runs a KeyedProcessFunction with the record's key
/// as the current key of its state backend, and its timers.

#include <optional>
#include <utility>

#include <brook/internal/keyed_operator_support.h>
#include <brook/internal/operators.h>
#include <brook/operator.h>
#include <brook/process_function.h>
#include <brook/state.h>

namespace brook::internal {

template <typename K, typename IN, typename OUT, typename KeySelector, typename F>
class KeyedProcessOperator final : public OneInputOperator<IN, OUT> {
 public:
  KeyedProcessOperator(KeySelector selector, F fn)
      : selector_(std::move(selector)), fn_(std::move(fn)) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    keyed_.open(context, [this](const InternalTimer& t, TimeDomain d) { onTimer(t, d); });
    ctx_.emplace(this, &keyed_.timers());
    this->callUser([&] { openFunction(fn_, context); });
  }

  void push(IN&& record, int64_t timestamp) override {
    this->callUser([&] {
      const K& key = keyed_.setCurrentKey(selector_(std::as_const(record)));
      collector_.reset(this->out_, timestamp);
      ctx_->set(timestamp, &key);
      fn_.processElement(record, *ctx_, collector_);
    });
  }

  void processWatermark(int64_t watermark) override {
    this->callUser([&] { keyed_.timers().advanceWatermark(watermark); });
    this->out_->emitWatermark(watermark);
  }

  void endInput() override {
    this->callUser([&] { keyed_.timers().fireAllProcessingTimers(); });
  }

  void close() override {
    this->callUser([&] { closeFunction(fn_); });
  }

 private:
  void onTimer(const InternalTimer& timer, TimeDomain domain) {
    keyed_.prepareTimer(timer, domain, *ctx_, collector_, this->out_);
    this->callUser([&] { fn_.onTimer(timer.timestamp, *ctx_, collector_); });
  }

  KeySelector selector_;
  F fn_;
  KeyedOperatorSupport<K> keyed_;
  std::optional<typename KeyedProcessFunction<K, IN, OUT>::OnTimerContext> ctx_;
  TimestampedCollector<OUT> collector_;
};

}  // namespace brook::internal
