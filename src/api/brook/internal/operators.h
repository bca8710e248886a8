#pragma once

/// The operators behind the DataStream API's transformations. Each is a template over the
/// user's function type, so a chained record passes through direct calls that the compiler can
/// inline; only the hop from one operator to the next is a virtual call.

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <brook/functions.h>
#include <brook/internal/key_hash.h>
#include <brook/internal/keyed_state_backend.h>
#include <brook/internal/timestamps_and_watermarks_operator.h>
#include <brook/operator.h>
#include <brook/operator_state_store.h>
#include <brook/process_function.h>
#include <brook/serializer.h>
#include <brook/sinks.h>
#include <brook/state.h>
#include <brook/watermark_strategy.h>

namespace brook::internal {

template <typename F>
void openFunction(F& fn, const RuntimeContext& context) {
  if constexpr (std::is_base_of_v<RichFunction, F>) {
    fn.setRuntimeContext(&context);
    fn.open(context);
  }
}

template <typename F>
void closeFunction(F& fn) {
  if constexpr (std::is_base_of_v<RichFunction, F>)
    fn.close();
}

/// An operator over a user function with the rich life cycle.
template <typename IN, typename OUT, typename F>
class FunctionOperator : public OneInputOperator<IN, OUT> {
 public:
  explicit FunctionOperator(F fn) : fn_(std::move(fn)) {}
  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    this->callUser([&] { openFunction(fn_, context); });
  }
  void close() override {
    this->callUser([&] { closeFunction(fn_); });
  }

 protected:
  F fn_;
};

template <typename IN, typename OUT, typename F>
class MapOperator final : public FunctionOperator<IN, OUT, F> {
 public:
  using FunctionOperator<IN, OUT, F>::FunctionOperator;
  void push(IN&& record, int64_t timestamp) override {
    this->out_->push(this->callUser([&]() -> OUT {
      if constexpr (requires { this->fn_.map(std::move(record)); }) {
        return this->fn_.map(std::move(record));
      } else {
        return this->fn_(std::move(record));
      }
    }),
                     timestamp);
  }
};

template <typename IN, typename F>
class FilterOperator final : public FunctionOperator<IN, IN, F> {
 public:
  using FunctionOperator<IN, IN, F>::FunctionOperator;
  void push(IN&& record, int64_t timestamp) override {
    bool keep = this->callUser([&]() -> bool {
      if constexpr (requires { this->fn_.filter(std::as_const(record)); }) {
        return this->fn_.filter(std::as_const(record));
      } else {
        return this->fn_(std::as_const(record));
      }
    });
    if (keep)
      this->out_->push(std::move(record), timestamp);
  }
};

/// A collector that forwards into an output with the current element's timestamp.
template <typename T>
class TimestampedCollector final : public Collector<T> {
 public:
  using Collector<T>::collect;
  void collect(T&& record) override { out_->push(std::move(record), timestamp_); }
  void reset(Output<T>* out, int64_t timestamp) {
    out_ = out;
    timestamp_ = timestamp;
  }

 private:
  Output<T>* out_ = nullptr;
  int64_t timestamp_ = kNoTimestamp;
};

template <typename IN, typename OUT, typename F>
class FlatMapOperator final : public FunctionOperator<IN, OUT, F> {
 public:
  using FunctionOperator<IN, OUT, F>::FunctionOperator;
  void push(IN&& record, int64_t timestamp) override {
    collector_.reset(this->out_, timestamp);
    this->callUser([&] {
      if constexpr (requires { this->fn_.flatMap(std::move(record), collector_); }) {
        this->fn_.flatMap(std::move(record), collector_);
      } else {
        this->fn_(std::move(record), collector_);
      }
    });
  }

 private:
  TimestampedCollector<OUT> collector_;
};

template <typename IN, typename OUT, typename F>
class ProcessOperator final : public FunctionOperator<IN, OUT, F> {
 public:
  explicit ProcessOperator(F fn)
      : FunctionOperator<IN, OUT, F>(std::move(fn)), ctx_(this, &watermark_) {}
  void push(IN&& record, int64_t timestamp) override {
    collector_.reset(this->out_, timestamp);
    ctx_.setTimestamp(timestamp);
    this->callUser([&] { this->fn_.processElement(record, ctx_, collector_); });
  }
  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    this->out_->emitWatermark(watermark);
  }

 private:
  int64_t watermark_ = kNoTimestamp;
  TimestampedCollector<OUT> collector_;
  typename ProcessFunction<IN, OUT>::Context ctx_;
};

/// A rolling reduce per key. STREAMING emits every updated value and keeps each key's value in
/// keyed state (ValueState "keyed-reduce", so that checkpoints hold it and it lives in RocksDB
/// with that backend); BATCH keeps the values in a table of its own and emits each key's final
/// value once, when the input ends.
template <typename K, typename T, typename KeySelector, typename ReduceFn>
class KeyedReduceOperator final : public OneInputOperator<T, T> {
 public:
  KeyedReduceOperator(KeySelector selector, ReduceFn reduce)
      : selector_(std::move(selector)), reduce_(std::move(reduce)) {}

  bool isKeyed() const override { return true; }

  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    batch_ = context.mode == RuntimeMode::kBatch;
    if (!batch_) {
      backend_ = context.keyedStateBackend;
      if (backend_ == nullptr)
        throw std::logic_error("keyed operator '" + context.operatorName +
                               "' has no state backend");
      state_ = &context.getState(ValueStateDescriptor<T>("keyed-reduce"));
    }
    this->callUser([&] { openFunction(reduce_, context); });
  }

  void push(T&& record, int64_t timestamp) override {
    if (!batch_) {
      this->callUser([&] {
        keyBytes_.clear();
        brook::serialize(selector_(std::as_const(record)), keyBytes_);
        backend_->setCurrentKey(keyBytes_.view());
        std::optional<T> current = state_->value();
        T next = current ? apply(*std::move(current), std::move(record)) : std::move(record);
        T copy(next);
        state_->update(std::move(next));
        this->out_->push(std::move(copy), timestamp);
      });
      return;
    }
    this->callUser([&] {
      K key = selector_(std::as_const(record));
      auto it = values_.find(key);
      if (it == values_.end()) {
        values_.emplace(std::move(key), std::move(record));
      } else {
        it->second = apply(std::move(it->second), std::move(record));
      }
    });
  }

  void endInput() override {
    if (!batch_)
      return;
    for (auto& [key, value] : values_)
      this->out_->push(std::move(value), kNoTimestamp);
    values_.clear();
  }

  void close() override {
    this->callUser([&] { closeFunction(reduce_); });
  }

 private:
  T apply(T accumulated, T next) {
    if constexpr (requires { reduce_.reduce(std::move(accumulated), std::move(next)); }) {
      return reduce_.reduce(std::move(accumulated), std::move(next));
    } else {
      return reduce_(std::move(accumulated), std::move(next));
    }
  }

  KeySelector selector_;
  ReduceFn reduce_;
  bool batch_ = false;
  // STREAMING.
  KeyedStateBackend* backend_ = nullptr;
  ValueState<T>* state_ = nullptr;
  DataOutput keyBytes_;
  // BATCH.
  KeyedTable<K, T> values_;
};

/// The reduce functions behind sum/min/max/minBy/maxBy over a field accessor.
template <typename T, typename Field>
struct SumReduce {
  Field field;
  T operator()(T a, T b) const {
    field(a) += field(b);
    return a;
  }
};
template <typename T, typename Field>
struct MinReduce {
  Field field;
  T operator()(T a, T b) const {
    if (field(b) < field(a))
      field(a) = field(b);
    return a;
  }
};
template <typename T, typename Field>
struct MaxReduce {
  Field field;
  T operator()(T a, T b) const {
    if (field(a) < field(b))
      field(a) = field(b);
    return a;
  }
};
template <typename T, typename Field>
struct MinByReduce {
  Field field;
  T operator()(T a, T b) const { return field(b) < field(a) ? std::move(b) : std::move(a); }
};
template <typename T, typename Field>
struct MaxByReduce {
  Field field;
  T operator()(T a, T b) const { return field(a) < field(b) ? std::move(b) : std::move(a); }
};

/// Accesses the record itself, for aggregations over arithmetic records.
struct IdentityField {
  template <typename T>
  T& operator()(T& value) const {
    return value;
  }
};

template <typename T>
class SinkOperator final : public OneInputOperator<T, T> {
 public:
  explicit SinkOperator(std::unique_ptr<SinkWriter<T>> writer) : writer_(std::move(writer)) {}
  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    this->callUser([&] { writer_->open(context); });
  }
  void push(T&& record, int64_t timestamp) override {
    this->callUser([&] { writer_->write(std::move(record), timestamp); });
  }
  void processWatermark(int64_t) override {}
  void endInput() override {
    this->callUser([&] { writer_->finish(); });
  }
  void close() override {
    this->callUser([&] { writer_->close(); });
  }
  void snapshotState(int64_t checkpointId) override {
    this->callUser([&] { writer_->snapshotState(checkpointId); });
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    this->callUser([&] { writer_->notifyCheckpointComplete(checkpointId); });
  }
  void notifyCheckpointAborted(int64_t checkpointId) override {
    this->callUser([&] { writer_->notifyCheckpointAborted(checkpointId); });
  }

 private:
  std::unique_ptr<SinkWriter<T>> writer_;
};

/// Drives one subtask's SourceReader. With a WatermarkStrategy, the strategy runs on what the
/// reader emits (timestamps, watermarks, idleness), per subtask.
template <typename T>
class SourceOperator final : public SourceOperatorBase {
 public:
  explicit SourceOperator(std::unique_ptr<SourceReader<T>> reader) : reader_(std::move(reader)) {}
  SourceOperator(std::unique_ptr<SourceReader<T>> reader, WatermarkStrategy<T> strategy)
      : reader_(std::move(reader)),
        watermarks_(std::make_unique<TimestampsAndWatermarksOutput<T>>(std::move(strategy))) {}
  void setOutput(OutputBase* output) override {
    StreamOperator::setOutput(output);
    Output<T>* readerOutput = static_cast<Output<T>*>(output);
    if (watermarks_)
      readerOutput = watermarks_.get();
    sourceOutput_ = std::make_unique<SourceOutput<T>>(readerOutput);
  }
  void open(const RuntimeContext& context) override {
    StreamOperator::open(context);
    if (watermarks_)
      callUser([&] { watermarks_->open(context, static_cast<Output<T>*>(output_)); });
    // A job restarted from a checkpoint hands the reader its position first.
    if (context.operatorStateStore != nullptr) {
      std::vector<std::string> restored = readerState().get();
      callUser([&] {
        for (const std::string& position : restored)
          reader_->restoreState(position);
      });
    }
    callUser([&] { reader_->open(context); });
  }
  InputStatus emitNext() override {
    return callUser([&] { return reader_->pollNext(*sourceOutput_); });
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    callUser([&] { reader_->notifyCheckpointComplete(checkpointId); });
  }
  void snapshotState(int64_t checkpointId) override {
    std::string position = callUser([&] { return reader_->snapshotState(checkpointId); });
    ListState<std::string>& state = readerState();
    state.clear();
    if (!position.empty())
      state.add(position);
  }
  void close() override {
    callUser([&] { reader_->close(); });
  }

 private:
  /// The reader's positions, in the operator state "source-reader-state".
  ListState<std::string>& readerState() {
    static const ListStateDescriptor<std::string> descriptor("source-reader-state");
    return this->context().getOperatorStateStore().getListState(descriptor);
  }

  std::unique_ptr<SourceReader<T>> reader_;
  std::unique_ptr<TimestampsAndWatermarksOutput<T>> watermarks_;
  std::unique_ptr<SourceOutput<T>> sourceOutput_;
};

}  // namespace brook::internal
