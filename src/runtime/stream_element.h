#pragma once

/// The byte layout of stream elements in network buffers. Elements follow each other and may
/// span buffers:
///   record:          [1][u32 length][payload]
///   timed record:    [2][i64 timestamp][u32 length][payload]
///   watermark:       [3][i64 watermark]
///   end of partition:[4]
///   barrier:         [5][i64 checkpoint id][i64 timestamp]
///   watermark status:[6][u8 idle (1) or active (0)]
///   barrier that may turn unaligned (aligned-checkpoint-timeout): [7][i64 checkpoint id]
///                    [i64 timestamp], alone in its buffer
///   savepoint barrier: [8][i64 checkpoint id][i64 timestamp]
/// All integers little-endian.
///
/// An unaligned checkpoint's barrier travels alone in a priority buffer (Buffer::priority),
/// ahead of data written before it; it is read out of band, not as part of the element stream.

#include <cstdint>
#include <string_view>

namespace brook::runtime {

enum class ElementKind : uint8_t {
  kRecord = 1,
  kTimedRecord = 2,
  kWatermark = 3,
  kEndOfPartition = 4,
  kBarrier = 5,
  /// The producer's watermark status: an idle channel does not hold back the consumer's
  /// watermark until it is active again.
  kWatermarkStatus = 6,
  /// A checkpoint barrier that starts aligned and turns unaligned once the checkpoint is older
  /// than the aligned-checkpoint-timeout. Decoded as kBarrier with `timeoutable` set.
  kTimeoutableBarrier = 7,
  /// The barrier of a savepoint (always aligned), whose snapshots must be full ones in the
  /// canonical format. Decoded as kBarrier with `savepoint` set.
  kSavepointBarrier = 8,
};

/// One decoded element. `payload` points into a network buffer or the deserializer's spill
/// area and is valid until the next element is read.
struct StreamElement {
  ElementKind kind = ElementKind::kRecord;
  int64_t timestamp = 0;  ///< records: their timestamp or kNoTimestamp; watermarks: the value
  int64_t checkpointId = 0;
  bool idle = false;  ///< watermark status: whether the channel is idle
  bool timeoutable = false;  ///< barrier: it may turn unaligned (kTimeoutableBarrier)
  bool savepoint = false;    ///< barrier: of a savepoint (kSavepointBarrier)
  std::string_view payload;
};

/// The size of a barrier element.
inline constexpr uint32_t kBarrierElementSize = 17;

/// The largest record accepted from the network; larger lengths mean corrupt input.
inline constexpr uint32_t kMaxRecordBytes = 1u << 30;

}  // namespace brook::runtime
