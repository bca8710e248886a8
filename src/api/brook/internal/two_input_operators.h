#pragma once

/// The operators behind connected streams: co-process functions (plain and keyed) and
/// broadcast process functions (plain and keyed).

#include <optional>
#include <utility>

#include <brook/broadcast_process_function.h>
#include <brook/internal/keyed_operator_support.h>
#include <brook/internal/operators.h>
#include <brook/operator.h>
#include <brook/process_function.h>

namespace brook::internal {

/// A two-input operator over a rich user function.
template <typename IN1, typename IN2, typename OUT, typename F>
class TwoInputFunctionOperator : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  explicit TwoInputFunctionOperator(F fn) : fn_(std::move(fn)) {}
  void close() override {
    this->callUser([&] { closeFunction(fn_); });
  }

 protected:
  void openUserFunction(const RuntimeContext& context) {
    this->callUser([&] { openFunction(fn_, context); });
  }
  F fn_;
  TimestampedCollector<OUT> collector_;
};

template <typename IN1, typename IN2, typename OUT, typename F>
class CoProcessOperator final : public TwoInputFunctionOperator<IN1, IN2, OUT, F> {
 public:
  using TwoInputFunctionOperator<IN1, IN2, OUT, F>::TwoInputFunctionOperator;
  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    ctx_.emplace(this);
    this->openUserFunction(context);
  }
  void processElement1(IN1&& record, int64_t timestamp) override {
    prepare(timestamp);
    this->callUser([&] { this->fn_.processElement1(record, *ctx_, this->collector_); });
  }
  void processElement2(IN2&& record, int64_t timestamp) override {
    prepare(timestamp);
    this->callUser([&] { this->fn_.processElement2(record, *ctx_, this->collector_); });
  }

 private:
  void prepare(int64_t timestamp) {
    this->collector_.reset(this->out_, timestamp);
    ctx_->setTimestamp(timestamp);
  }
  std::optional<ContextBase> ctx_;
};

template <typename K,
          typename IN1,
          typename IN2,
          typename OUT,
          typename KeySelector1,
          typename KeySelector2,
          typename F>
class KeyedCoProcessOperator final : public TwoInputFunctionOperator<IN1, IN2, OUT, F> {
 public:
  KeyedCoProcessOperator(KeySelector1 selector1, KeySelector2 selector2, F fn)
      : TwoInputFunctionOperator<IN1, IN2, OUT, F>(std::move(fn)),
        selector1_(std::move(selector1)),
        selector2_(std::move(selector2)) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    keyed_.open(context, [this](const InternalTimer& t, TimeDomain d) { onTimer(t, d); });
    ctx_.emplace(this, &keyed_.timers());
    this->openUserFunction(context);
  }
  void processElement1(IN1&& record, int64_t timestamp) override {
    this->callUser([&] {
      prepare(keyed_.setCurrentKey(selector1_(std::as_const(record))), timestamp);
      this->fn_.processElement1(record, *ctx_, this->collector_);
    });
  }
  void processElement2(IN2&& record, int64_t timestamp) override {
    this->callUser([&] {
      prepare(keyed_.setCurrentKey(selector2_(std::as_const(record))), timestamp);
      this->fn_.processElement2(record, *ctx_, this->collector_);
    });
  }
  void processWatermark(int64_t watermark) override {
    this->callUser([&] { keyed_.timers().advanceWatermark(watermark); });
    this->out_->emitWatermark(watermark);
  }
  void endInput() override {
    this->callUser([&] { keyed_.timers().fireAllProcessingTimers(); });
  }

 private:
  void prepare(const K& key, int64_t timestamp) {
    this->collector_.reset(this->out_, timestamp);
    ctx_->set(timestamp, &key);
  }
  void onTimer(const InternalTimer& timer, TimeDomain domain) {
    keyed_.prepareTimer(timer, domain, *ctx_, this->collector_, this->out_);
    this->callUser([&] { this->fn_.onTimer(timer.timestamp, *ctx_, this->collector_); });
  }

  KeySelector1 selector1_;
  KeySelector2 selector2_;
  KeyedOperatorSupport<K> keyed_;
  std::optional<typename KeyedCoProcessFunction<K, IN1, IN2, OUT>::OnTimerContext> ctx_;
};

/// Input 1: the non-broadcast stream; input 2: the broadcast stream.
template <typename IN1, typename IN2, typename OUT, typename F>
class BroadcastProcessOperator final : public TwoInputFunctionOperator<IN1, IN2, OUT, F> {
 public:
  using TwoInputFunctionOperator<IN1, IN2, OUT, F>::TwoInputFunctionOperator;
  using Function = BroadcastProcessFunction<IN1, IN2, OUT>;

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    OperatorStateStore* store = &context.getOperatorStateStore();
    readOnly_.emplace(store, this);
    writable_.emplace(store, this);
    this->openUserFunction(context);
  }
  void processElement1(IN1&& record, int64_t timestamp) override {
    this->collector_.reset(this->out_, timestamp);
    readOnly_->setTimestamp(timestamp);
    this->callUser([&] { this->fn_.processElement(record, *readOnly_, this->collector_); });
  }
  void processElement2(IN2&& record, int64_t timestamp) override {
    this->collector_.reset(this->out_, timestamp);
    writable_->setTimestamp(timestamp);
    this->callUser([&] {
      this->fn_.processBroadcastElement(record, *writable_, this->collector_);
    });
  }

 private:
  std::optional<typename Function::ReadOnlyContext> readOnly_;
  std::optional<typename Function::Context> writable_;
};

template <typename K, typename IN1, typename IN2, typename OUT, typename KeySelector, typename F>
class KeyedBroadcastProcessOperator final : public TwoInputFunctionOperator<IN1, IN2, OUT, F> {
 public:
  using Function = KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>;

  KeyedBroadcastProcessOperator(KeySelector selector, F fn)
      : TwoInputFunctionOperator<IN1, IN2, OUT, F>(std::move(fn)), selector_(std::move(selector)) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    keyed_.open(context, [this](const InternalTimer& t, TimeDomain d) { onTimer(t, d); });
    OperatorStateStore* store = &context.getOperatorStateStore();
    readOnly_.emplace(store, this, &keyed_.timers());
    writable_.emplace(store, this);
    this->openUserFunction(context);
  }
  void processElement1(IN1&& record, int64_t timestamp) override {
    this->callUser([&] {
      const K& key = keyed_.setCurrentKey(selector_(std::as_const(record)));
      this->collector_.reset(this->out_, timestamp);
      readOnly_->set(timestamp, &key);
      this->fn_.processElement(record, *readOnly_, this->collector_);
    });
  }
  void processElement2(IN2&& record, int64_t timestamp) override {
    keyed_.backend().clearCurrentKey();
    this->collector_.reset(this->out_, timestamp);
    writable_->setTimestamp(timestamp);
    this->callUser([&] {
      this->fn_.processBroadcastElement(record, *writable_, this->collector_);
    });
  }
  void processWatermark(int64_t watermark) override {
    this->callUser([&] { keyed_.timers().advanceWatermark(watermark); });
    this->out_->emitWatermark(watermark);
  }
  void endInput() override {
    this->callUser([&] { keyed_.timers().fireAllProcessingTimers(); });
  }

 private:
  void onTimer(const InternalTimer& timer, TimeDomain domain) {
    keyed_.prepareTimer(timer, domain, *readOnly_, this->collector_, this->out_);
    this->callUser([&] { this->fn_.onTimer(timer.timestamp, *readOnly_, this->collector_); });
  }

  KeySelector selector_;
  KeyedOperatorSupport<K> keyed_;
  std::optional<typename Function::OnTimerContext> readOnly_;
  std::optional<typename Function::Context> writable_;
};

}  // namespace brook::internal
