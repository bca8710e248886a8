#include "runtime/record_writer.h"

#include <chrono>
#include <cstring>

#include "state/key_group.h"

namespace brook::runtime {

// Records written inline through lanes (RecordWriter::emitRecord) are framed by the API's
// header writer.
static_assert(::brook::internal::kRecordElementKind == static_cast<uint8_t>(ElementKind::kRecord));
static_assert(::brook::internal::kTimedRecordElementKind ==
              static_cast<uint8_t>(ElementKind::kTimedRecord));

namespace {

using ::brook::internal::writeRecordHeader;

}  // namespace

ChannelRecordWriter::ChannelRecordWriter(ResultPartition* partition,
                                         const std::atomic<bool>* cancelled,
                                         Options options,
                                         std::atomic<int64_t>* backPressuredNanos)
    : partition_(partition),
      cancelled_(cancelled),
      backPressuredNanos_(backPressuredNanos),
      options_(options),
      numberOfChannels_(partition->numberOfSubpartitions()),
      current_(static_cast<size_t>(numberOfChannels_), nullptr),
      random_(static_cast<uint32_t>(options.subtaskIndex) + 1) {
  nextChannel_ = options_.subtaskIndex % numberOfChannels_;
  if (options_.partitioner == PartitionerKind::kKeyGroup) {
    channelOfKeyGroup_.resize(static_cast<size_t>(options_.maxParallelism));
    for (int keyGroup = 0; keyGroup < options_.maxParallelism; ++keyGroup) {
      channelOfKeyGroup_[static_cast<size_t>(keyGroup)] =
          state::operatorIndexForKeyGroup(options_.maxParallelism, numberOfChannels_, keyGroup);
    }
  }
  if (numberOfChannels_ == 1 || options_.partitioner == PartitionerKind::kForward ||
      options_.partitioner == PartitionerKind::kGlobal) {
    fixedChannel_ = 0;
  }
  // Rescale: each producer feeds a contiguous share of the consumers (or shares one).
  int p = options_.producerParallelism;
  int n = numberOfChannels_;
  if (n >= p) {
    rescaleStart_ = options_.subtaskIndex * n / p;
    rescaleCount_ = std::max(1, (options_.subtaskIndex + 1) * n / p - rescaleStart_);
  } else {
    rescaleStart_ = options_.subtaskIndex * n / p;
    rescaleCount_ = 1;
  }
  // Lanes let a record that fits be written into its channel's buffer inline, from the
  // task's output: into the one channel every record goes to, or the one its key or a custom
  // partitioner picks. Not where the writer picks a channel per record (rebalance, rescale,
  // shuffle: those records take the virtual path, and lanes would only cost their upkeep), for
  // broadcast, nor with a buffer timeout of 0 (every record is sent on its own).
  const bool callerPicksChannel = options_.partitioner == PartitionerKind::kKeyGroup ||
                                  options_.partitioner == PartitionerKind::kCustom;
  if (!options_.flushAlways && (fixedChannel_ >= 0 || callerPicksChannel)) {
    laneStorage_.resize(static_cast<size_t>(numberOfChannels_));
    lanes_ = laneStorage_.data();
    laneChannel_ = fixedChannel_;
  }
}

inline void ChannelRecordWriter::closeLane(int channel) {
  if (lanes_ == nullptr)
    return;
  RecordLane& lane = lanes_[channel];
  if (lane.pos == nullptr)
    return;
  Buffer* b = current_[static_cast<size_t>(channel)];
  b->size = static_cast<uint32_t>(lane.pos - b->data);
  lane = {};
}

inline void ChannelRecordWriter::openLane(int channel) {
  if (lanes_ == nullptr)
    return;
  Buffer* b = current_[static_cast<size_t>(channel)];
  if (b == nullptr)
    return;
  lanes_[channel] = {b->data + b->size, b->data + b->capacity};
}

ChannelRecordWriter::~ChannelRecordWriter() {
  for (Buffer* b : current_) {
    if (b != nullptr)
      recycleBuffer(b);
  }
}

int ChannelRecordWriter::keyedChannel(std::string_view serializedKey) const {
  const int keyGroup = state::keyGroupFor(serializedKey, options_.maxParallelism);
  if (!channelOfKeyGroup_.empty()) [[likely]]
    return channelOfKeyGroup_[static_cast<size_t>(keyGroup)];
  return state::operatorIndexForKeyGroup(options_.maxParallelism, numberOfChannels_, keyGroup);
}

[[gnu::always_inline]] inline int ChannelRecordWriter::pickChannel() {
  if (fixedChannel_ >= 0)
    return fixedChannel_;
  // Forward and global have their fixed channel.
  switch (options_.partitioner) {
    case PartitionerKind::kBroadcast:
      return -1;
    case PartitionerKind::kShuffle:
      return static_cast<int>(random_() % static_cast<uint32_t>(numberOfChannels_));
    case PartitionerKind::kRescale: {
      int c = rescaleStart_ + nextChannel_ % rescaleCount_;
      nextChannel_ = (nextChannel_ + 1) % rescaleCount_;
      return c;
    }
    default: {
      int c = nextChannel_;
      nextChannel_ = nextChannel_ + 1 == numberOfChannels_ ? 0 : nextChannel_ + 1;
      return c;
    }
  }
}

[[gnu::always_inline]] inline void ChannelRecordWriter::writeSerialized(int channel,
                                                                        RecordSerializeFn serialize,
                                                                        const void* record,
                                                                        int64_t timestamp) {
  closeLane(channel);
  const size_t headerSize = timestamp == kNoTimestamp ? 5 : 13;
  Buffer* b = current_[static_cast<size_t>(channel)];
  if (b == nullptr) [[unlikely]]
    b = currentBuffer(channel);
  if (b->free() < headerSize) [[unlikely]] {
    serialized_.writeOwned();
    serialize(record, serialized_);
    writeRecord(channel, serialized_.view(), timestamp);
    return;
  }
  char* out = b->data + b->size;
  char* payload = out + headerSize;
  serialized_.writeInto(payload, b->free() - headerSize);
  serialize(record, serialized_);
  if (!serialized_.writesInto(payload)) {
    // It did not fit: the bytes moved to the output's own storage.
    writeRecord(channel, serialized_.view(), timestamp);
    return;
  }
  auto length = static_cast<uint32_t>(serialized_.size());
  writeRecordHeader(out, timestamp, length);
  b->size += static_cast<uint32_t>(headerSize + length);
  ++recordsOut_;
  if (options_.flushAlways || b->free() == 0)
    finishBuffer(channel);
  else
    openLane(channel);
}

void ChannelRecordWriter::emit(std::string_view record, int64_t timestamp) {
  int channel = pickChannel();
  if (channel >= 0) {
    writeRecord(channel, record, timestamp);
    return;
  }
  for (int c = 0; c < numberOfChannels_; ++c)
    writeRecord(c, record, timestamp);
}

void ChannelRecordWriter::emitSerialized(RecordSerializeFn serialize,
                                         const void* record,
                                         int64_t timestamp) {
  int channel = pickChannel();
  if (channel >= 0) {
    writeSerialized(channel, serialize, record, timestamp);
    return;
  }
  // Broadcast: serialized once, copied to every channel.
  serialized_.writeOwned();
  serialize(record, serialized_);
  for (int c = 0; c < numberOfChannels_; ++c)
    writeRecord(c, serialized_.view(), timestamp);
}

void ChannelRecordWriter::emitKeyedSerialized(std::string_view serializedKey,
                                              RecordSerializeFn serialize,
                                              const void* record,
                                              int64_t timestamp) {
  writeSerialized(keyedChannel(serializedKey), serialize, record, timestamp);
}

void ChannelRecordWriter::emitToSerialized(int channel,
                                           RecordSerializeFn serialize,
                                           const void* record,
                                           int64_t timestamp) {
  writeSerialized(channel, serialize, record, timestamp);
}

void ChannelRecordWriter::emitKeyed(std::string_view serializedKey,
                                    std::string_view record,
                                    int64_t timestamp) {
  writeRecord(keyedChannel(serializedKey), record, timestamp);
}

void ChannelRecordWriter::emitTo(int channel, std::string_view record, int64_t timestamp) {
  writeRecord(channel, record, timestamp);
}

void ChannelRecordWriter::writeRecord(int channel, std::string_view record, int64_t timestamp) {
  closeLane(channel);
  auto length = static_cast<uint32_t>(record.size());
  const size_t headerSize = timestamp == kNoTimestamp ? 5 : 13;
  Buffer* b = current_[static_cast<size_t>(channel)];
  if (b != nullptr && b->free() >= headerSize + record.size()) {
    // The common case: the whole element fits into the current buffer. The header is written
    // in place: staged on the stack and copied, its bytes would be read back across the
    // separate stores that wrote them, which stalls store-to-load forwarding.
    char* out = b->data + b->size;
    writeRecordHeader(out, timestamp, length);
    std::memcpy(out + headerSize, record.data(), record.size());
    b->size += static_cast<uint32_t>(headerSize + record.size());
  } else {
    char header[13];
    writeRecordHeader(header, timestamp, length);
    write(channel, header, headerSize);
    write(channel, record.data(), record.size());
  }
  ++recordsOut_;
  if (options_.flushAlways)
    finishBuffer(channel);
  else
    openLane(channel);
}

Buffer* ChannelRecordWriter::currentBuffer(int channel) {
  auto& cur = current_[static_cast<size_t>(channel)];
  if (cur != nullptr)
    return cur;
  cur = partition_->pool().tryRequest();
  if (cur == nullptr) {
    // Every buffer is in flight: the consumers are slower than this producer.
    auto start = std::chrono::steady_clock::now();
    cur = partition_->pool().request(*cancelled_);
    if (backPressuredNanos_ != nullptr) {
      backPressuredNanos_->fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count(),
                                     std::memory_order_relaxed);
    }
    if (cur == nullptr)
      throw TaskCancelledError{};
  }
  return cur;
}

void ChannelRecordWriter::write(int channel, const char* data, size_t n) {
  closeLane(channel);
  auto& cur = current_[static_cast<size_t>(channel)];
  while (n > 0) {
    currentBuffer(channel);
    size_t take = std::min<size_t>(n, cur->free());
    std::memcpy(cur->data + cur->size, data, take);
    cur->size += static_cast<uint32_t>(take);
    data += take;
    n -= take;
    if (cur->free() == 0)
      finishBuffer(channel);
  }
}

void ChannelRecordWriter::finishBuffer(int channel) {
  closeLane(channel);
  auto& cur = current_[static_cast<size_t>(channel)];
  if (cur == nullptr)
    return;
  if (cur->size == 0)
    return;
  partition_->subpartition(channel).add(cur);
  cur = nullptr;
}

void ChannelRecordWriter::broadcastWatermark(int64_t watermark) {
  char element[9];
  element[0] = static_cast<char>(ElementKind::kWatermark);
  std::memcpy(element + 1, &watermark, 8);
  for (int c = 0; c < numberOfChannels_; ++c) {
    write(c, element, sizeof(element));
    if (options_.flushAlways)
      finishBuffer(c);
  }
}

void ChannelRecordWriter::broadcastWatermarkStatus(bool idle) {
  char element[2];
  element[0] = static_cast<char>(ElementKind::kWatermarkStatus);
  element[1] = idle ? 1 : 0;
  for (int c = 0; c < numberOfChannels_; ++c) {
    write(c, element, sizeof(element));
    // A channel going idle may unblock the consumer's watermark: it must not wait for the
    // buffer timeout (an idle producer has nothing else to send).
    finishBuffer(c);
  }
}

void ChannelRecordWriter::broadcastBarrier(int64_t checkpointId,
                                           int64_t timestamp,
                                           bool isSavepoint) {
  char element[kBarrierElementSize];
  element[0] =
      static_cast<char>(isSavepoint ? ElementKind::kSavepointBarrier : ElementKind::kBarrier);
  std::memcpy(element + 1, &checkpointId, 8);
  std::memcpy(element + 9, &timestamp, 8);
  for (int c = 0; c < numberOfChannels_; ++c) {
    write(c, element, sizeof(element));
    finishBuffer(c);  // a barrier is never held back by the buffer timeout
  }
}

namespace {

/// A buffer of its own holding one barrier element of `kind`; it belongs to no pool, so that
/// sending it never waits for a free buffer.
Buffer* barrierBuffer(ElementKind kind, int64_t checkpointId, int64_t timestamp) {
  Buffer* barrier = allocateUnpooledBuffer(kBarrierElementSize);
  barrier->data[0] = static_cast<char>(kind);
  std::memcpy(barrier->data + 1, &checkpointId, 8);
  std::memcpy(barrier->data + 9, &timestamp, 8);
  barrier->size = kBarrierElementSize;
  return barrier;
}

}  // namespace

std::vector<std::string> ChannelRecordWriter::broadcastPriorityBarrier(int64_t checkpointId,
                                                                       int64_t timestamp) {
  std::vector<std::string> overtaken(static_cast<size_t>(numberOfChannels_));
  for (int c = 0; c < numberOfChannels_; ++c) {
    finishBuffer(c);  // what was written before the barrier is in flight too
    Buffer* barrier = barrierBuffer(ElementKind::kBarrier, checkpointId, timestamp);
    barrier->priority = true;
    partition_->subpartition(c).addPriority(barrier, overtaken[static_cast<size_t>(c)]);
  }
  return overtaken;
}

void ChannelRecordWriter::broadcastTimeoutableBarrier(int64_t checkpointId, int64_t timestamp) {
  for (int c = 0; c < numberOfChannels_; ++c) {
    finishBuffer(c);
    Buffer* barrier = barrierBuffer(ElementKind::kTimeoutableBarrier, checkpointId, timestamp);
    barrier->timeoutable = true;
    partition_->subpartition(c).add(barrier);
  }
}

void ChannelRecordWriter::writeRecoveredOutput(int channel, std::string_view bytes) {
  write(channel, bytes.data(), bytes.size());
  finishBuffer(channel);
}

void ChannelRecordWriter::flushAll() {
  for (int c = 0; c < numberOfChannels_; ++c)
    finishBuffer(c);
}

void ChannelRecordWriter::endOfPartition() {
  char element = static_cast<char>(ElementKind::kEndOfPartition);
  for (int c = 0; c < numberOfChannels_; ++c)
    write(c, &element, 1);
  flushAll();
}

}  // namespace brook::runtime
