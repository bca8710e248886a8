#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <brook/operator.h>
#include <brook/stream_graph.h>

#include "runtime/result_partition.h"
#include "runtime/stream_element.h"

namespace brook::runtime {

/// Thrown out of a blocking buffer request when the task is cancelled.
struct TaskCancelledError {};

/// Writes one subtask's elements for one job edge into its ResultPartition: picks channels by
/// the edge's partitioner, frames elements into buffers (spanning buffers when needed), and
/// hands full buffers to the subpartitions. Used only by the task thread.
class ChannelRecordWriter final : public RecordWriter {
 public:
  struct Options {
    PartitionerKind partitioner = PartitionerKind::kRebalance;
    int maxParallelism = 128;
    int subtaskIndex = 0;
    int producerParallelism = 1;
    bool flushAlways = false;  ///< buffer timeout 0: every record is sent at once
    RuntimeMode mode = RuntimeMode::kStreaming;
  };

  /// `backPressuredNanos`, when set, accumulates the time spent waiting for free buffers.
  ChannelRecordWriter(ResultPartition* partition,
                      const std::atomic<bool>* cancelled,
                      Options options,
                      std::atomic<int64_t>* backPressuredNanos = nullptr);
  ~ChannelRecordWriter() override;
  // The lanes point into the writer itself.
  ChannelRecordWriter(const ChannelRecordWriter&) = delete;
  ChannelRecordWriter& operator=(const ChannelRecordWriter&) = delete;

  void emit(std::string_view record, int64_t timestamp) override;
  void emitKeyed(std::string_view serializedKey,
                 std::string_view record,
                 int64_t timestamp) override;
  void emitTo(int channel, std::string_view record, int64_t timestamp) override;
  void emitSerialized(RecordSerializeFn serialize, const void* record, int64_t timestamp) override;
  void emitKeyedSerialized(std::string_view serializedKey,
                           RecordSerializeFn serialize,
                           const void* record,
                           int64_t timestamp) override;
  void emitToSerialized(int channel,
                        RecordSerializeFn serialize,
                        const void* record,
                        int64_t timestamp) override;
  void broadcastWatermark(int64_t watermark) override;
  void broadcastWatermarkStatus(bool idle) override;
  int numberOfChannels() const override { return numberOfChannels_; }
  int channelForKey(std::string_view serializedKey) const override {
    return keyedChannel(serializedKey);
  }
  RuntimeMode runtimeMode() const override { return options_.mode; }

  /// Sends a checkpoint barrier on every channel, behind the records written before it; a
  /// savepoint's tells the tasks downstream to take full snapshots.
  void broadcastBarrier(int64_t checkpointId, int64_t timestamp, bool isSavepoint = false);
  /// Sends an unaligned checkpoint's barrier on every channel as a priority buffer ahead of the
  /// buffers still queued, and returns per channel the bytes it overtook (all written before
  /// it, partly filled buffers included): the channel's in-flight data for the checkpoint. Never
  /// waits for a free buffer.
  std::vector<std::string> broadcastPriorityBarrier(int64_t checkpointId, int64_t timestamp);
  /// Sends a barrier that may turn unaligned on every channel: alone in a buffer, behind the
  /// records written before it (see ResultSubpartition::timeoutableBarrier).
  void broadcastTimeoutableBarrier(int64_t checkpointId, int64_t timestamp);
  /// Where the timeoutable barrier of `checkpointId` is on `channel`; `convert` turns it into a
  /// priority buffer ahead of the data queued before it, whose bytes go to `overtaken`.
  ResultSubpartition::BarrierState timeoutableBarrier(int channel,
                                                      int64_t checkpointId,
                                                      bool convert,
                                                      std::string& overtaken) {
    return partition_->subpartition(channel).timeoutableBarrier(checkpointId, convert, overtaken);
  }
  /// Writes `bytes` (elements as on the wire, possibly starting or ending inside one) to
  /// `channel` and sends them: the in-flight data of a restored unaligned checkpoint, before
  /// anything else the task writes.
  void writeRecoveredOutput(int channel, std::string_view bytes);
  /// Sends every partly filled buffer.
  void flushAll();
  /// Sends end-of-partition on every channel and flushes.
  void endOfPartition();

  int64_t recordsOut() const { return recordsOut_ + laneRecords_; }
  /// Whether a free buffer is at hand, so that writing does not wait for the consumers.
  bool isAvailable() const { return partition_->pool().availableBuffers() > 0; }
  /// Waits until a buffer is free or `timeout` passed.
  void waitUntilAvailable(std::chrono::milliseconds timeout) {
    partition_->pool().waitUntilAvailable(timeout);
  }

 private:
  // The channel the edge's partitioner picks for the next record; -1 for all of them
  // (broadcast). Inline, in record_writer.cc: one switch per record.
  inline int pickChannel();
  // The channel that owns the key group of `serializedKey`.
  int keyedChannel(std::string_view serializedKey) const;
  void writeRecord(int channel, std::string_view record, int64_t timestamp);
  // Serializes a record into the current buffer of `channel` behind room for its header and
  // completes the element there; a record that does not fit is written across buffers.
  // Inline, in record_writer.cc: the record's serializer is the only call on the common path.
  inline void writeSerialized(int channel,
                              RecordSerializeFn serialize,
                              const void* record,
                              int64_t timestamp);
  void write(int channel, const char* data, size_t n);
  // A channel's lane (RecordWriter::lanes_) covers the free part of its current buffer from
  // openLane() until closeLane(), which takes what records were written there into the
  // buffer's size. Every write to a buffer here closes its lane first. Inline, in
  // record_writer.cc.
  inline void closeLane(int channel);
  inline void openLane(int channel);
  // The current buffer of `channel`, requested from the pool (waiting for one if none is free)
  // if it has none.
  Buffer* currentBuffer(int channel);
  void finishBuffer(int channel);

  ResultPartition* partition_;
  const std::atomic<bool>* cancelled_;
  std::atomic<int64_t>* backPressuredNanos_;
  Options options_;
  int numberOfChannels_;
  std::vector<Buffer*> current_;
  // The channel of every record when the partitioner has no choice (forward, global, or one
  // channel); -1 otherwise.
  int fixedChannel_ = -1;
  // The channel of each key group (keyed edges; empty otherwise): a key's channel is a hash
  // and a look-up, not two divisions.
  std::vector<int> channelOfKeyGroup_;
  int nextChannel_ = 0;
  int rescaleStart_ = 0;
  int rescaleCount_ = 1;
  std::minstd_rand random_;
  int64_t recordsOut_ = 0;
  // Where emit*Serialized() serialize: into a buffer's free part, or its own storage.
  DataOutput serialized_;
  // The lanes by channel (empty when the writer opens none).
  std::vector<RecordLane> laneStorage_;
};

}  // namespace brook::runtime
