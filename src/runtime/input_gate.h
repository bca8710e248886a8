#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <brook/operator.h>

#include "runtime/buffer_pool.h"
#include "runtime/mailbox.h"
#include "runtime/result_partition.h"
#include "runtime/stream_element.h"

namespace brook::runtime {

/// Reassembles stream elements from a channel's sequence of buffers, including elements that
/// span buffers. Owned and used by the task thread.
class ElementDeserializer {
 public:
  explicit ElementDeserializer(std::string channelDescription)
      : channel_(std::move(channelDescription)) {}
  ~ElementDeserializer();
  ElementDeserializer(const ElementDeserializer&) = delete;
  ElementDeserializer& operator=(const ElementDeserializer&) = delete;

  /// Hands over the channel's next buffer; the deserializer recycles it when consumed.
  void setBuffer(Buffer* buffer);
  /// Decodes the next complete element; false when the current buffer is used up. Throws
  /// std::runtime_error naming the channel on corrupt bytes.
  bool next(StreamElement& element) {
    // The common cases, inline in the caller's loop: a record, with or without a timestamp,
    // that lies whole in the buffer.
    if (stage_ == Stage::kKind && spill_.empty() && buffer_ != nullptr) {
      const char* p = buffer_->data + pos_;
      size_t available = buffer_->size - pos_;
      if (available >= 5 && p[0] == static_cast<char>(ElementKind::kRecord)) {
        uint32_t length;
        std::memcpy(&length, p + 1, 4);
        if (length <= available - 5) {
          element.kind = ElementKind::kRecord;
          element.timestamp = kNoTimestamp;
          element.payload = std::string_view(p + 5, length);
          pos_ += 5 + length;
          return true;
        }
      } else if (available >= 13 && p[0] == static_cast<char>(ElementKind::kTimedRecord)) {
        uint32_t length;
        std::memcpy(&length, p + 9, 4);
        if (length <= available - 13) {
          element.kind = ElementKind::kTimedRecord;
          std::memcpy(&element.timestamp, p + 1, 8);
          element.payload = std::string_view(p + 13, length);
          pos_ += 13 + length;
          return true;
        }
      }
    }
    return nextElement(element);
  }
  /// True when no element is half-read.
  bool isEmpty() const { return stage_ == Stage::kKind && spill_.empty(); }
  /// The bytes this channel delivered that are not processed yet, as they were on the wire: the
  /// part of an element whose rest is still to come, then what is left of the current buffer.
  /// An unaligned checkpoint stores them with the channel's in-flight data.
  std::string unconsumedBytes() const;
  /// The bytes of the current buffer not read yet.
  size_t remainingInBuffer() const { return buffer_ == nullptr ? 0 : buffer_->size - pos_; }

 private:
  enum class Stage { kKind, kTimestamp, kLength, kPayload, kWatermark, kBarrier, kWatermarkStatus };
  /// Makes `n` contiguous bytes available at `out`, from the buffer or by copying into the
  /// spill area; false if the buffer ends first (the partial bytes stay in the spill area).
  bool read(size_t n, const char*& out);
  /// The general decoder: any element, also one that spans buffers.
  bool nextElement(StreamElement& element);
  void releaseBuffer();

  std::string channel_;
  Buffer* buffer_ = nullptr;
  size_t pos_ = 0;
  std::string spill_;
  Stage stage_ = Stage::kKind;
  ElementKind kind_ = ElementKind::kRecord;
  int64_t timestamp_ = 0;
  uint32_t length_ = 0;
};

/// A task's input: the channels of all its input edges. Producers report channels that have
/// data; the task thread polls them, the channel whose data is furthest behind in event time
/// first (as Kafka Streams picks the partition with the earliest record), in arrival order among
/// equals. Under backpressure that lets the lagging producers catch up instead of keeping their
/// lag for good: a join or window then holds fewer elements that wait for the other side. No
/// channel with data is passed over more than maxBypasses() times in a row, so that a channel
/// whose times run ahead (or a priority event on it) is never starved.
class InputGate final : public SubpartitionListener {
 public:
  struct Channel {
    ResultSubpartition* subpartition;
    int inputEdge;  ///< index of the job edge among the task's inputs
  };

  explicit InputGate(Mailbox* mailbox) : mailbox_(mailbox) {}

  /// Connects a channel; called before the task starts.
  int addChannel(ResultSubpartition* subpartition, int inputEdge);
  int numberOfChannels() const { return static_cast<int>(channels_.size()); }
  const Channel& channel(int i) const { return channels_[static_cast<size_t>(i)]; }

  /// Producer side (any thread).
  void notifyDataAvailable(int channel) override;

  /// Task thread: the next buffer of some channel, or null if none is ready. Blocked channels
  /// are skipped; their data waits.
  Buffer* pollNext(int& channel);
  /// Task thread: the latest record timestamp that `channel` delivered (kNoTimestamp: none),
  /// which orders the channels that have data.
  void setChannelTime(int channel, int64_t time) {
    channelTime_[static_cast<size_t>(channel)] = time;
  }
  /// How many times in a row a channel with data may be passed over for others behind it.
  int maxBypasses() const { return std::max(8, 2 * numberOfChannels()); }

  /// Task thread: holds back `channel` (it delivered the barrier of a checkpoint being aligned)
  /// until `unblockAll`.
  void block(int channel);
  /// Task thread: releases every blocked channel; those with data are polled again.
  void unblockAll();
  bool isBlocked(int channel) const { return blocked_[static_cast<size_t>(channel)]; }

 private:
  /// The available channel to poll next (see the class comment); lock held, more than one
  /// channel available.
  std::deque<int>::iterator selectChannel();

  Mailbox* mailbox_;
  std::vector<Channel> channels_;
  std::mutex mutex_;
  std::deque<int> available_;
  std::vector<bool> queued_;
  // Task thread only (read by pollNext under the lock, written by the task thread).
  std::vector<bool> blocked_;
  std::vector<int64_t> channelTime_;
  // Polls since the channel, available, was last chosen (reset when it is chosen).
  std::vector<int> bypasses_;
  // Blocked channels that reported data while blocked; still marked queued_.
  std::vector<int> parked_;
};

}  // namespace brook::runtime
