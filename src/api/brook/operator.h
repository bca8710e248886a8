#pragma once

/// The operator contract between the typed API and the runtime.
///
/// A StreamGraph node creates one `StreamOperator` per parallel subtask. Records reach an
/// operator through its input port (an `Output<IN>` that the operator implements) and leave it
/// through `Output<OUT>` objects that the runtime wires: the next chained operator, a fan-out,
/// or a `NetworkOutput` that serializes into a `RecordWriter`. All calls on one operator come
/// from its task's thread.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <brook/functions.h>
#include <brook/internal/key_hash.h>
#include <brook/serializer.h>

namespace brook {

/// The timestamp of a record that has none.
inline constexpr int64_t kNoTimestamp = INT64_MIN;
/// The watermark that ends event time: every timer and window fires.
inline constexpr int64_t kMaxWatermark = INT64_MAX;

/// A user function threw: carries the operator and subtask so that the job's failure message
/// names them.
class OperatorException : public std::runtime_error {
 public:
  OperatorException(const std::string& operatorDescription, const std::string& message)
      : std::runtime_error("operator '" + operatorDescription + "' failed: " + message) {}
};

/// The task's processing-time clock and timers. Implemented by the runtime; used on the task's
/// thread.
class ProcessingTimeService {
 public:
  virtual ~ProcessingTimeService() = default;
  /// Wall-clock time in epoch milliseconds.
  virtual int64_t currentProcessingTime() const = 0;
  /// Runs `callback(time)` on the task's thread once processing time reaches `time` (at once,
  /// in the task's next loop turn, when it already has). Callbacks for the same time run in
  /// registration order.
  virtual void registerTimer(int64_t time, std::function<void(int64_t)> callback) = 0;
};

/// Type-erased side of an output: everything that is not a record.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void emitWatermark(int64_t watermark) = 0;
  /// The stream's watermark status: while idle, the stream does not hold back the watermark of
  /// downstream operators that also read other streams; a record or watermark makes it active
  /// again. Operators forward it by default; outputs that end a stream drop it.
  virtual void emitWatermarkStatus(bool idle) { (void)idle; }
  /// The input has ended: emit whatever is held back. The task calls it on its network
  /// outputs after every operator of the chain has seen the end of its input.
  virtual void finish() {}
  virtual const std::type_info& recordType() const = 0;
};

/// Accepts records of type `T`. `push` may move from the record.
template <typename T>
class Output : public OutputBase {
 public:
  virtual void push(T&& record, int64_t timestamp) = 0;
  const std::type_info& recordType() const override { return typeid(T); }
};

/// Sends each record and watermark to several outputs (copies for all but the last).
template <typename T>
class FanOutOutput final : public Output<T> {
 public:
  explicit FanOutOutput(std::vector<Output<T>*> outputs) : outputs_(std::move(outputs)) {}
  void push(T&& record, int64_t timestamp) override {
    for (size_t i = 0; i + 1 < outputs_.size(); ++i) {
      T copy(record);
      outputs_[i]->push(std::move(copy), timestamp);
    }
    outputs_.back()->push(std::move(record), timestamp);
  }
  void emitWatermark(int64_t watermark) override {
    for (auto* o : outputs_)
      o->emitWatermark(watermark);
  }
  void emitWatermarkStatus(bool idle) override {
    for (auto* o : outputs_)
      o->emitWatermarkStatus(idle);
  }

 private:
  std::vector<Output<T>*> outputs_;
};

/// Discards everything; the output of an operator whose results nobody consumes.
template <typename T>
class DiscardingOutput final : public Output<T> {
 public:
  void push(T&&, int64_t) override {}
  void emitWatermark(int64_t) override {}
};

/// Serializes the record at `record`, of the type the function was instantiated for, into `out`.
using RecordSerializeFn = void (*)(const void* record, DataOutput& out);

/// The RecordSerializeFn of records of type `T`.
template <typename T>
void serializeRecord(const void* record, DataOutput& out) {
  brook::serialize(*static_cast<const T*>(record), out);
}

namespace internal {

/// The header of a record element on the wire, as the runtime frames it: the element's kind
/// (1: record, 2: record with a timestamp), the timestamp if it has one, and the payload's
/// length, little-endian.
inline constexpr uint8_t kRecordElementKind = 1;
inline constexpr uint8_t kTimedRecordElementKind = 2;
inline constexpr size_t kRecordHeaderBytes = 5;
inline constexpr size_t kTimedRecordHeaderBytes = 13;

/// Writes a record element's header at `out` (kRecordHeaderBytes, or kTimedRecordHeaderBytes
/// for a `timestamp` other than kNoTimestamp).
inline void writeRecordHeader(char* out, int64_t timestamp, uint32_t length) {
  if (timestamp == kNoTimestamp) {
    out[0] = static_cast<char>(kRecordElementKind);
    std::memcpy(out + 1, &length, 4);
  } else {
    out[0] = static_cast<char>(kTimedRecordElementKind);
    std::memcpy(out + 1, &timestamp, 8);
    std::memcpy(out + 9, &length, 4);
  }
}

}  // namespace internal

/// The free part [pos, end) of the buffer that one channel of a RecordWriter fills, while the
/// writer lets records be written there directly (RecordWriter::emitRecord); both null when it
/// does not.
struct RecordLane {
  char* pos = nullptr;
  char* end = nullptr;
};

/// The runtime's writer for one outgoing network edge of one subtask. The runtime implements
/// it: it picks channels by the edge's partitioner, serializes into buffers and applies
/// backpressure by blocking for free buffers.
class RecordWriter {
 public:
  virtual ~RecordWriter() = default;

  /// emitSerialized() of a record of type `T`. While the writer keeps a lane open for the
  /// channel the partitioner always picks, a record that fits is serialized and framed in the
  /// channel's buffer right here, inline: no virtual call, no indirect serializer.
  template <typename T>
  void emitRecord(const T& record, int64_t timestamp) {
    if (laneChannel_ >= 0 && writeInLane(lanes_[laneChannel_], record, timestamp))
      return;
    emitSerialized(&serializeRecord<T>, &record, timestamp);
  }
  /// emitKeyedSerialized() of a record of type `T`, inline when the key's channel has room.
  template <typename T>
  void emitKeyedRecord(std::string_view serializedKey, const T& record, int64_t timestamp) {
    if (lanes_ == nullptr) {
      emitKeyedSerialized(serializedKey, &serializeRecord<T>, &record, timestamp);
      return;
    }
    const int channel = channelForKey(serializedKey);
    if (!writeInLane(lanes_[channel], record, timestamp))
      emitToSerialized(channel, &serializeRecord<T>, &record, timestamp);
  }
  /// emitToSerialized() of a record of type `T`, inline when the channel has room.
  template <typename T>
  void emitRecordTo(int channel, const T& record, int64_t timestamp) {
    if (lanes_ != nullptr && writeInLane(lanes_[channel], record, timestamp))
      return;
    emitToSerialized(channel, &serializeRecord<T>, &record, timestamp);
  }
  /// Sends a serialized record; the edge's partitioner picks the channel(s).
  virtual void emit(std::string_view record, int64_t timestamp) = 0;
  /// Sends a record to the channel owning the key group of `serializedKey`.
  virtual void emitKeyed(std::string_view serializedKey,
                         std::string_view record,
                         int64_t timestamp) = 0;
  /// Sends a record to one channel chosen by a custom partitioner.
  virtual void emitTo(int channel, std::string_view record, int64_t timestamp) = 0;
  /// emit(), emitKeyed() and emitTo() of a record that `serialize` writes: the writer has it
  /// serialize the record straight into the buffer that sends it, without a copy.
  virtual void emitSerialized(RecordSerializeFn serialize,
                              const void* record,
                              int64_t timestamp) = 0;
  virtual void emitKeyedSerialized(std::string_view serializedKey,
                                   RecordSerializeFn serialize,
                                   const void* record,
                                   int64_t timestamp) = 0;
  virtual void emitToSerialized(int channel,
                                RecordSerializeFn serialize,
                                const void* record,
                                int64_t timestamp) = 0;
  virtual void broadcastWatermark(int64_t watermark) = 0;
  /// Sends the watermark status (idle or active) on every channel.
  virtual void broadcastWatermarkStatus(bool idle) { (void)idle; }
  virtual int numberOfChannels() const = 0;
  /// The channel that owns the key group of `serializedKey`.
  virtual int channelForKey(std::string_view serializedKey) const = 0;
  /// The job's resolved runtime mode (STREAMING or BATCH).
  virtual RuntimeMode runtimeMode() const = 0;

 protected:
  /// The lanes by channel (null: the writer opens none), and the channel that emitRecord()
  /// writes to (-1: the partitioner picks one per record). The implementation opens a lane on
  /// a buffer it fills and closes it before it touches that buffer itself.
  RecordLane* lanes_ = nullptr;
  int laneChannel_ = -1;
  /// The records written through lanes, for the implementation's count.
  int64_t laneRecords_ = 0;

 private:
  // Serializes into a lane (its own storage takes a record that does not fit).
  DataOutput laneOutput_;

  // Writes the element of `record` at the lane's position if it fits there; false (nothing
  // written) if the lane is closed or too short.
  template <typename T>
  bool writeInLane(RecordLane& lane, const T& record, int64_t timestamp) {
    const size_t header = timestamp == kNoTimestamp ? internal::kRecordHeaderBytes
                                                    : internal::kTimedRecordHeaderBytes;
    char* const pos = lane.pos;
    if (static_cast<size_t>(lane.end - pos) <= header)
      return false;
    char* const payload = pos + header;
    laneOutput_.writeInto(payload, static_cast<size_t>(lane.end - payload));
    brook::serialize(record, laneOutput_);
    if (!laneOutput_.writesInto(payload))
      return false;  // it moved to the output's own storage: the caller's fallback sends it
    const size_t length = laneOutput_.size();
    internal::writeRecordHeader(pos, timestamp, static_cast<uint32_t>(length));
    lane.pos = payload + length;
    ++laneRecords_;
    return true;
  }
};

/// Serializes records of type `T` into a RecordWriter.
template <typename T>
class NetworkOutput : public Output<T> {
 public:
  explicit NetworkOutput(RecordWriter* writer) : writer_(writer) {}
  void push(T&& record, int64_t timestamp) override { writer_->emitRecord(record, timestamp); }
  void emitWatermark(int64_t watermark) override { writer_->broadcastWatermark(watermark); }
  void emitWatermarkStatus(bool idle) override { writer_->broadcastWatermarkStatus(idle); }

 protected:
  RecordWriter* writer_;
};

/// Serializes records and their keys; the runtime routes by the key's key group.
template <typename T, typename KeySelector>
class KeyedNetworkOutput final : public NetworkOutput<T> {
 public:
  KeyedNetworkOutput(RecordWriter* writer, KeySelector selector)
      : NetworkOutput<T>(writer), selector_(std::move(selector)) {}
  void push(T&& record, int64_t timestamp) override {
    keyBuffer_.clear();
    brook::serialize(selector_(std::as_const(record)), keyBuffer_);
    this->writer_->emitKeyedRecord(keyBuffer_.view(), record, timestamp);
  }

 private:
  KeySelector selector_;
  DataOutput keyBuffer_;
};

/// A keyed output that, in BATCH mode, pre-aggregates records per key with the downstream
/// reduce function before they cross the network (a combiner): only final values are visible in
/// BATCH mode, so the result is the same, with far less data shuffled. At most
/// `kMaxCombinedKeys` keys are held; beyond that, everything held is sent. In STREAMING mode
/// every record is sent as it comes.
template <typename K, typename T, typename KeySelector, typename ReduceFn>
class CombiningKeyedNetworkOutput final : public NetworkOutput<T> {
 public:
  static constexpr size_t kMaxCombinedKeys = 1 << 16;

  CombiningKeyedNetworkOutput(RecordWriter* writer, KeySelector selector, ReduceFn reduce)
      : NetworkOutput<T>(writer),
        selector_(std::move(selector)),
        reduce_(std::move(reduce)),
        combine_(writer->runtimeMode() == RuntimeMode::kBatch) {}

  void push(T&& record, int64_t timestamp) override {
    if (!combine_) {
      send(record, timestamp);
      return;
    }
    K key = selector_(std::as_const(record));
    auto it = held_.find(key);
    if (it == held_.end()) {
      held_.emplace(std::move(key), std::move(record));
      if (held_.size() >= kMaxCombinedKeys)
        sendHeld();
    } else if constexpr (requires { reduce_.reduce(std::move(it->second), std::move(record)); }) {
      it->second = reduce_.reduce(std::move(it->second), std::move(record));
    } else {
      it->second = reduce_(std::move(it->second), std::move(record));
    }
  }

  void emitWatermark(int64_t watermark) override {
    // The final watermark must follow the held records; it is sent by finish().
    if (combine_ && watermark == kMaxWatermark) {
      finalWatermarkPending_ = true;
      return;
    }
    this->writer_->broadcastWatermark(watermark);
  }

  void finish() override {
    sendHeld();
    if (finalWatermarkPending_)
      this->writer_->broadcastWatermark(kMaxWatermark);
    finalWatermarkPending_ = false;
  }

 private:
  void send(const T& record, int64_t timestamp) {
    keyBuffer_.clear();
    brook::serialize(selector_(record), keyBuffer_);
    this->writer_->emitKeyedRecord(keyBuffer_.view(), record, timestamp);
  }
  void sendHeld() {
    for (const auto& [key, value] : held_)
      send(value, kNoTimestamp);
    held_.clear();
  }

  KeySelector selector_;
  ReduceFn reduce_;
  bool combine_;
  bool finalWatermarkPending_ = false;
  internal::KeyedTable<K, T> held_;
  DataOutput keyBuffer_;
};

/// Serializes records and sends each to the channel a user partitioner picks from its key.
template <typename T, typename Partitioner, typename KeySelector>
class CustomNetworkOutput final : public NetworkOutput<T> {
 public:
  CustomNetworkOutput(RecordWriter* writer, Partitioner partitioner, KeySelector selector)
      : NetworkOutput<T>(writer),
        partitioner_(std::move(partitioner)),
        selector_(std::move(selector)) {}
  void push(T&& record, int64_t timestamp) override {
    int n = this->writer_->numberOfChannels();
    int channel = static_cast<int>(partitioner_(selector_(std::as_const(record)), n));
    if (channel < 0 || channel >= n) {
      throw std::out_of_range("custom partitioner returned channel " + std::to_string(channel) +
                              " of " + std::to_string(n));
    }
    this->writer_->emitRecordTo(channel, record, timestamp);
  }

 private:
  Partitioner partitioner_;
  KeySelector selector_;
};

/// Turns serialized records from the network back into typed records for an operator.
class RecordDeserializer {
 public:
  virtual ~RecordDeserializer() = default;
  virtual void processRecord(std::string_view bytes, int64_t timestamp) = 0;
  virtual OutputBase* target() = 0;
};

template <typename T>
class TypedRecordDeserializer final : public RecordDeserializer {
 public:
  explicit TypedRecordDeserializer(Output<T>* target) : target_(target) {}
  void processRecord(std::string_view bytes, int64_t timestamp) override {
    DataInput in(bytes);
    T record{};
    brook::deserialize(in, record);
    if (in.remaining() != 0) {
      throw SerializationError("corrupt record: " + std::to_string(in.remaining()) +
                               " trailing bytes");
    }
    target_->push(std::move(record), timestamp);
  }
  OutputBase* target() override { return target_; }

 private:
  Output<T>* target_;
};

/// Base of every operator. `input()` is the port that upstream outputs push into (null for
/// sources); outputs are set by the runtime before `open`.
class StreamOperator {
 public:
  virtual ~StreamOperator() = default;

  virtual void open(const RuntimeContext& context) { context_ = &context; }
  /// All input has ended (bounded streams): emit final results. Called head to tail.
  virtual void endInput() {}
  /// Releases resources; called on success and failure alike.
  virtual void close() {}
  /// Checkpoint `checkpointId` is being taken at this task: bring operator state up to date.
  /// The runtime snapshots the operator's keyed and operator state right after, before the task
  /// processes anything else.
  virtual void snapshotState(int64_t checkpointId) { (void)checkpointId; }
  /// Checkpoint `checkpointId` completed: every task acknowledged it and its metadata is
  /// written. What it covers may be committed.
  virtual void notifyCheckpointComplete(int64_t checkpointId) { (void)checkpointId; }
  /// Checkpoint `checkpointId` will not complete.
  virtual void notifyCheckpointAborted(int64_t checkpointId) { (void)checkpointId; }
  virtual OutputBase* input() { return nullptr; }
  /// The port of the second input of a two-input operator (null for others).
  virtual OutputBase* input2() { return nullptr; }
  /// The port of input 1 or 2.
  OutputBase* inputFor(int index) { return index == 2 ? input2() : input(); }
  /// Whether this operator runs on a keyed stream: the runtime then gives it a keyed state
  /// backend for its key groups (RuntimeContext::keyedStateBackend) before `open`.
  virtual bool isKeyed() const { return false; }

  virtual void setOutput(OutputBase* output) { output_ = output; }
  void addSideOutput(std::string tagId, OutputBase* output) {
    sideOutputs_.emplace_back(std::move(tagId), output);
  }
  OutputBase* sideOutput(std::string_view tagId) const {
    for (const auto& [id, out] : sideOutputs_) {
      if (id == tagId)
        return out;
    }
    return nullptr;
  }

  const RuntimeContext& context() const { return *context_; }
  OutputBase* output() const { return output_; }

 protected:
  /// Wraps a throwing user call so the failure names this operator and subtask.
  template <typename Fn>
  decltype(auto) callUser(Fn&& fn) {
    try {
      return fn();
    } catch (const OperatorException&) {
      throw;
    } catch (const std::exception& e) {
      throw OperatorException(context_->subtaskDescription(), e.what());
    }
  }

  OutputBase* output_ = nullptr;
  std::vector<std::pair<std::string, OutputBase*>> sideOutputs_;
  const RuntimeContext* context_ = nullptr;
};

/// An operator with one typed input and one typed main output.
template <typename IN, typename OUT>
class OneInputOperator : public StreamOperator, public Output<IN> {
 public:
  OutputBase* input() override { return static_cast<Output<IN>*>(this); }
  void setOutput(OutputBase* output) override {
    StreamOperator::setOutput(output);
    out_ = static_cast<Output<OUT>*>(output);
  }
  /// Passes only watermarks above the last one to `processWatermark`: an operator's watermark
  /// never goes backwards.
  void emitWatermark(int64_t watermark) override {
    if (watermark <= lastWatermark_)
      return;
    lastWatermark_ = watermark;
    processWatermark(watermark);
  }
  virtual void processWatermark(int64_t watermark) { out_->emitWatermark(watermark); }
  void emitWatermarkStatus(bool idle) override { processWatermarkStatus(idle); }
  virtual void processWatermarkStatus(bool idle) {
    if (out_ != nullptr)
      out_->emitWatermarkStatus(idle);
  }

 protected:
  Output<OUT>* out_ = nullptr;

 private:
  int64_t lastWatermark_ = kNoTimestamp;
};

/// An operator with two typed inputs (connected streams) and one typed main output. Its
/// inputs are never chained to upstream operators, so the watermark the task passes to either
/// port is already the minimum over both inputs.
template <typename IN1, typename IN2, typename OUT>
class TwoInputOperator : public StreamOperator {
 public:
  OutputBase* input() override { return &input1_; }
  OutputBase* input2() override { return &input2_; }
  void setOutput(OutputBase* output) override {
    StreamOperator::setOutput(output);
    out_ = static_cast<Output<OUT>*>(output);
  }

  virtual void processElement1(IN1&& record, int64_t timestamp) = 0;
  virtual void processElement2(IN2&& record, int64_t timestamp) = 0;
  virtual void processWatermark(int64_t watermark) { out_->emitWatermark(watermark); }
  /// The task passes the status of both inputs together (idle when all its inputs are).
  virtual void processWatermarkStatus(bool idle) { out_->emitWatermarkStatus(idle); }

 protected:
  Output<OUT>* out_ = nullptr;

 private:
  template <typename T, int kInput>
  class Port final : public Output<T> {
   public:
    explicit Port(TwoInputOperator* op) : op_(op) {}
    void push(T&& record, int64_t timestamp) override {
      if constexpr (kInput == 1) {
        op_->processElement1(std::move(record), timestamp);
      } else {
        op_->processElement2(std::move(record), timestamp);
      }
    }
    void emitWatermark(int64_t watermark) override { op_->onWatermark(watermark); }
    void emitWatermarkStatus(bool idle) override { op_->processWatermarkStatus(idle); }

   private:
    TwoInputOperator* op_;
  };

  void onWatermark(int64_t watermark) {
    if (watermark <= watermark_)
      return;
    watermark_ = watermark;
    processWatermark(watermark);
  }

  Port<IN1, 1> input1_{this};
  Port<IN2, 2> input2_{this};
  int64_t watermark_ = kNoTimestamp;
};

/// What a source's `pollNext` reports.
enum class InputStatus { kMoreAvailable, kNothingAvailable, kEndOfInput };

/// Collects a source's records into the operator chain.
template <typename T>
class SourceOutput {
 public:
  explicit SourceOutput(Output<T>* out) : out_(out) {}
  void collect(T&& record, int64_t timestamp = kNoTimestamp) {
    out_->push(std::move(record), timestamp);
  }
  void collect(const T& record, int64_t timestamp = kNoTimestamp) {
    T copy(record);
    out_->push(std::move(copy), timestamp);
  }
  void emitWatermark(int64_t watermark) { out_->emitWatermark(watermark); }
  /// Marks this source subtask idle (it holds back no downstream watermark) or active again.
  void markIdle() { out_->emitWatermarkStatus(true); }
  void markActive() { out_->emitWatermarkStatus(false); }

 private:
  Output<T>* out_;
};

/// Reads one subtask's share of a source. `pollNext` emits a batch of records and returns
/// promptly (it must not block for long: the task runs mail and flushes between calls).
template <typename T>
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void open(const RuntimeContext& context) { (void)context; }
  virtual InputStatus pollNext(SourceOutput<T>& output) = 0;
  virtual void close() {}
  /// The reader's position at checkpoint `checkpointId`, as bytes that `restoreState` of the
  /// same subtask's reader takes back when the job restarts from that checkpoint. Empty (the
  /// default) when the reader keeps no position.
  virtual std::string snapshotState(int64_t checkpointId) {
    (void)checkpointId;
    return {};
  }
  /// Called before `open` with what `snapshotState` returned, when the job restarts from a
  /// checkpoint or savepoint: once per restored position. At the same parallelism a reader
  /// gets back its own; after a change of parallelism the positions of all readers are dealt
  /// out in contiguous runs, so a reader may get several or none (`RuntimeContext::restored`
  /// then tells it not to start afresh).
  virtual void restoreState(std::string_view state) { (void)state; }
  /// Checkpoint `checkpointId` completed: positions up to it are durable.
  virtual void notifyCheckpointComplete(int64_t checkpointId) { (void)checkpointId; }
};

/// The type-erased face of a source operator that the task drives.
class SourceOperatorBase : public StreamOperator {
 public:
  virtual InputStatus emitNext() = 0;
};

}  // namespace brook
